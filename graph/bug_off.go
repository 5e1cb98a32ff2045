//go:build !daggerbug

package graph

// injectedDedupBug is false in every real build; see bug_on.go.
const injectedDedupBug = false
