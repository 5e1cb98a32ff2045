// Package payment checks that a VM request was paid for on Solana.
//
// A request carries a signed Solana transaction that pays the cluster
// treasury. Every node runs Verify on the transaction's wire bytes: it is
// offline, pure and deterministic, so all honest nodes reach the same verdict
// and the same Reason from the same bytes and Requirement. It checks that the
// transaction decodes canonically within Solana's packet limit, that it moves
// at least the price from a signer into the treasury with System Program
// transfers, that it carries the request's memo as raw bytes, and that every
// required ed25519 signature is present and valid.
//
// Verify cannot see the chain, so the node must guarantee the rest:
//
//   - Requirement is derived deterministically from replicated state (the
//     treasury of the cluster, the price of the VM, the memo naming the
//     request), never from the request alone, or nodes may disagree.
//   - A Payment.Signature is spent once: the node records it in replicated
//     state when it admits the request and rejects any later request carrying
//     the same signature, even with a different memo requirement.
//   - The admitting node asks a Chain for the signature's Status and admits
//     only on StatusFinalized; pending waits (bounded by the blockhash's
//     lifetime), failed and not-found reject. Verify accepts transactions
//     that will never land or that fail on chain, such as one whose payer
//     lacks the funds.
//
// Build makes the transactions the simulator's clients and the tests send,
// and MemChain is the simulator's ledger; the live Chain speaks JSON-RPC.
package payment
