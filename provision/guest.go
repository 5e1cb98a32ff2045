package provision

// GuestUser is the account a guest's owner logs in as: the cloud-init seed
// of every VM creates it with the owner's SSH key (and no password), so
// that the access the cluster publishes for a VM is one command line,
// whatever image it runs.
const GuestUser = "dagger"
