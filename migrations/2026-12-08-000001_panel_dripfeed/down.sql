DROP TABLE drip_feed_runs;
DROP TABLE drip_feeds;
ALTER TABLE services DROP COLUMN dripfeed_by_panel;
