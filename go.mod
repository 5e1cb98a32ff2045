module dagger

go 1.26

require (
	go.yaml.in/yaml/v3 v3.0.4
	pgregory.net/rapid v1.2.0 // indirect
)
