//go:build daggerbug

package graph

// injectedDedupBug breaks the linearizer on purpose: a transaction already
// delivered within the window is delivered again. It exists to show that
// a generated campaign finds such a bug and shrinks it (go test -tags
// daggerbug ./sim/swarm, or go run -tags daggerbug ./cmd/dagger sim fuzz);
// no build without the tag contains it.
const injectedDedupBug = true
