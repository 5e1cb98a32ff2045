package p2p_test

import (
	"crypto/ed25519"
	"fmt"
	"time"

	"dagger/transport"
	"dagger/transport/p2p"
)

// Two operators: each allows the other, one knows the other's address, and
// a message crosses once they are connected.
func Example() {
	_, keyA, _ := ed25519.GenerateKey(nil)
	_, keyB, _ := ed25519.GenerateKey(nil)
	got := make(chan string, 1)
	a, err := p2p.New(p2p.Config{Key: keyA, Listen: []string{"/ip4/127.0.0.1/tcp/0"}}, func(transport.PeerID, []byte) {})
	if err != nil {
		panic(err)
	}
	defer a.Close()
	b, err := p2p.New(p2p.Config{Key: keyB, Listen: []string{"/ip4/127.0.0.1/udp/0/quic-v1"}}, func(_ transport.PeerID, msg []byte) {
		got <- string(msg)
	})
	if err != nil {
		panic(err)
	}
	defer b.Close()

	committee := []transport.PeerID{a.ID(), b.ID()}
	a.SetAllowed(committee)
	b.SetAllowed(committee)
	if err := a.AddPeerAddr(b.ID(), b.Addrs()); err != nil {
		panic(err)
	}
	for len(a.Peers()) == 0 {
		time.Sleep(10 * time.Millisecond)
	}
	a.Send(b.ID(), []byte("hello"))
	fmt.Println(<-got)
	// Output: hello
}
