-- The public catalogue updates feed: what customers see change about a service
-- (it appeared, was enabled or disabled, its list price went up or down, its
-- limits changed), written by a trigger so every writer (admins, the catalogue
-- sync, repricing) is covered. No provider, rate or cost is recorded here.
CREATE TABLE service_updates (
    id BIGSERIAL PRIMARY KEY,
    service_id BIGINT NOT NULL REFERENCES services (id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('NEW', 'ENABLED', 'DISABLED', 'PRICE_UP', 'PRICE_DOWN', 'LIMITS_CHANGED')),
    old_price_per_1000 BIGINT,
    new_price_per_1000 BIGINT,
    old_min_quantity BIGINT,
    new_min_quantity BIGINT,
    old_max_quantity BIGINT,
    new_max_quantity BIGINT,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX service_updates_by_service ON service_updates (service_id);

CREATE FUNCTION record_service_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NEW.active THEN
            INSERT INTO service_updates (service_id, kind, new_price_per_1000, new_min_quantity, new_max_quantity)
            VALUES (NEW.id, 'NEW', NEW.price_per_1000, NEW.min_quantity, NEW.max_quantity);
        END IF;
        RETURN NEW;
    END IF;
    IF NEW.active IS DISTINCT FROM OLD.active THEN
        INSERT INTO service_updates (service_id, kind, new_price_per_1000, new_min_quantity, new_max_quantity)
        VALUES (NEW.id, CASE WHEN NEW.active THEN 'ENABLED' ELSE 'DISABLED' END,
                NEW.price_per_1000, NEW.min_quantity, NEW.max_quantity);
    END IF;
    -- A hidden service's price and limits are nobody's news.
    IF NOT NEW.active THEN
        RETURN NEW;
    END IF;
    IF NEW.price_per_1000 <> OLD.price_per_1000 THEN
        INSERT INTO service_updates (service_id, kind, old_price_per_1000, new_price_per_1000)
        VALUES (NEW.id, CASE WHEN NEW.price_per_1000 > OLD.price_per_1000 THEN 'PRICE_UP' ELSE 'PRICE_DOWN' END,
                OLD.price_per_1000, NEW.price_per_1000);
    END IF;
    IF NEW.min_quantity <> OLD.min_quantity OR NEW.max_quantity <> OLD.max_quantity THEN
        INSERT INTO service_updates (service_id, kind, old_min_quantity, new_min_quantity, old_max_quantity, new_max_quantity)
        VALUES (NEW.id, 'LIMITS_CHANGED', OLD.min_quantity, NEW.min_quantity, OLD.max_quantity, NEW.max_quantity);
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER services_record_updates
    AFTER INSERT OR UPDATE OF active, price_per_1000, min_quantity, max_quantity ON services
    FOR EACH ROW EXECUTE FUNCTION record_service_update();
