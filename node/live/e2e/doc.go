// Package e2e holds the live node's end-to-end tests: they build the
// dagger binary and run real node processes, on loopback or in network
// namespaces the tests create themselves, and check what the README
// promises operators (agreement after kill -9, partitions, VMs landing in
// libvirt). They run when DAGGER_E2E=1 (`make e2e`, and CI); the partition
// test also needs root, ip and tc, and the VM test a libvirtd.
package e2e
