DROP TABLE contact_messages;
DROP TABLE faq_entries;
DROP TABLE ticket_messages;
DROP TABLE ticket_orders;
DROP TABLE tickets;
