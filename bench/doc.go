// Package bench is the harness behind `dagger bench`: consensus throughput
// and latency sweeps with their statistics, tables and pictures.
//
// A sweep is a list of Points, one per system, committee size and offered
// rate. Every point is written as one JSON object per line (WriteJSONL),
// summarised in a markdown table (WriteTable) and drawn with gonum/plot
// (WritePlots): throughput against offered load, latency against
// throughput, and each point's latency distribution. Statistics come from
// gonum/stat over every committed transaction's latency, never from
// histogram buckets.
//
// Sim runs the sweep in the deterministic simulator: an open-loop Poisson
// load of opaque transactions (bytes the ledger orders and delivers, which
// no state machine interprets) on a network of constant latency δ, so that
// latency is also reported in message delays: a leader commits in about
// 3δ and a transaction in about 4.5δ on average in the Mysticeti-C family.
// Each point's scenario file is kept, so `dagger sim run` reproduces it.
//
// Throughput and latency are measured by these runs, never asserted by
// tests: the tests check the shape of the report and its statistics.
package bench
