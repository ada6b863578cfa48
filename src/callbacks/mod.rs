//! Signed webhooks to resellers, the wire side: the Standard Webhooks signature
//! (`signature.rs`), the address guard that keeps calls off loopback, private,
//! link-local and metadata addresses at every resolution, so a DNS change cannot
//! get around it (`address.rs`), and the sender: no redirects, a short timeout,
//! the answer read only up to a small limit (`sender.rs`). What is sent and when
//! is `domain::callbacks` and `jobs/callback_outbox.rs`.

pub mod address;
pub mod sender;
pub mod signature;
