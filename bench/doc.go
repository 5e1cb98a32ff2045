// Package bench is the harness behind `dagger bench`: simulated and live
// throughput and latency runs with their statistics. Nothing is implemented
// here yet; the graph's micro-benchmarks run with `make bench`.
package bench
