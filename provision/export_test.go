package provision

// ReadSeed reads the seed image at path back, for the tests of package
// provision_test.
func ReadSeed(path string) (metaData, userData []byte, err error) {
	sd, err := readSeed(path)
	return sd.MetaData, sd.UserData, err
}
