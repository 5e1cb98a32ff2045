// Package api is a node's HTTP API and its Go client.
//
// Every route lives under /v1 and speaks JSON; docs/openapi.yaml describes
// them, and a test keeps that document and the routes NewServer registers
// in step. Every change to the cluster is a transaction signed by its
// author (package node/tx): the server checks, forwards and reports, and
// never signs for anyone. Reads come from the node's latest commit.
//
// Errors are JSON objects {"error": code, "reason": text}: code is one of
// the Code constants, stable for programs; reason says, for people, what
// went wrong and what to do. A transaction the node's processor refuses is
// 422; a node too busy to take it, or stopped, 503; a node that did not
// answer in time, 504.
//
// The server holds no state of its own: each request is answered by calls
// into a Backend, each bounded by Options.RequestTimeout, so a stuck node
// costs a client a timeout, never a hung connection.
package api
