// Package provision defines how an operator's host creates and destroys
// virtual machines: libvirt for the live node, a simulated hypervisor for
// the simulator. Nothing is implemented here yet.
package provision
