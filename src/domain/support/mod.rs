//! The support desk: tickets (`tickets.rs`: a thread between the customer,
//! staff and the reply bot, with staff's internal notes), the reply bot
//! (`bot.rs`: answers questions about orders from live data, files refill and
//! cancel requests, quotes the FAQ), the FAQ (`faq.rs`) and the contact form for
//! visitors (`contact.rs`). Every write runs in one transaction with its events,
//! notifications and mail.

pub mod bot;
pub mod contact;
pub mod faq;
pub mod ticket_limit;
pub mod tickets;
