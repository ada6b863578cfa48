// @generated automatically by Diesel CLI.

diesel::table! {
    account_tokens (id) {
        id -> Int8,
        user_id -> Int8,
        purpose -> Text,
        token_hash -> Bytea,
        expires_at -> Timestamptz,
        used_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    admin_audit_log (id) {
        id -> Int8,
        admin_id -> Int8,
        action -> Text,
        subject_type -> Text,
        subject_id -> Nullable<Int8>,
        before -> Nullable<Jsonb>,
        after -> Nullable<Jsonb>,
        reason -> Nullable<Text>,
        created_at -> Timestamptz,
        actor_role -> Nullable<Text>,
    }
}

diesel::table! {
    announcement_reads (announcement_id, user_id) {
        announcement_id -> Int8,
        user_id -> Int8,
        read_at -> Timestamptz,
    }
}

diesel::table! {
    announcements (id) {
        id -> Int8,
        title -> Text,
        body_markdown -> Text,
        body_html -> Text,
        platform -> Nullable<Text>,
        author_id -> Nullable<Int8>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    api_keys (id) {
        id -> Int8,
        user_id -> Int8,
        name -> Text,
        prefix -> Text,
        key_hash -> Bytea,
        created_at -> Timestamptz,
        last_used_at -> Nullable<Timestamptz>,
        revoked_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    app_settings (key) {
        key -> Text,
        value -> Jsonb,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    bank_mutations (id) {
        id -> Int8,
        source -> Text,
        external_id -> Text,
        bank -> Text,
        account_number -> Text,
        amount -> Int8,
        description -> Text,
        occurred_at -> Timestamptz,
        status -> Text,
        deposit_id -> Nullable<Int8>,
        resolved_by -> Nullable<Int8>,
        resolution_note -> Nullable<Text>,
        payload -> Jsonb,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    callback_deliveries (id) {
        id -> Int8,
        user_id -> Int8,
        order_id -> Int8,
        event_id -> Int8,
        status -> Text,
        attempts -> Int4,
        next_attempt_at -> Timestamptz,
        lease_until -> Nullable<Timestamptz>,
        last_status_code -> Nullable<Int4>,
        last_error -> Nullable<Text>,
        delivered_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    catalog_changes (id) {
        id -> Int8,
        provider_id -> Int8,
        service_id -> Nullable<Int8>,
        provider_service_id -> Text,
        kind -> Text,
        old_values -> Nullable<Jsonb>,
        new_values -> Nullable<Jsonb>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    chat_link_codes (code_hash) {
        code_hash -> Text,
        user_id -> Int8,
        channel -> Text,
        expires_at -> Timestamptz,
        used_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    chat_links (id) {
        id -> Int8,
        user_id -> Int8,
        channel -> Text,
        chat_id -> Text,
        linked_at -> Timestamptz,
        last_inbound_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    chat_messages (id) {
        id -> Int8,
        channel -> Text,
        chat_id -> Text,
        body -> Text,
        template -> Bool,
        status -> Text,
        attempts -> Int4,
        next_attempt_at -> Timestamptz,
        lease_until -> Nullable<Timestamptz>,
        last_error -> Nullable<Text>,
        sent_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    contact_messages (id) {
        id -> Int8,
        name -> Text,
        email -> Text,
        subject -> Text,
        message -> Text,
        language -> Text,
        ip_address -> Text,
        answer -> Nullable<Text>,
        answered_by -> Nullable<Int8>,
        answered_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    content_items (id) {
        id -> Int8,
        kind -> Text,
        title -> Text,
        slug -> Text,
        body_markdown -> Text,
        body_html -> Text,
        excerpt -> Text,
        cover_image_url -> Nullable<Text>,
        tags -> Array<Text>,
        language -> Text,
        translation_of -> Nullable<Int8>,
        status -> Text,
        publish_at -> Nullable<Timestamptz>,
        published_at -> Nullable<Timestamptz>,
        author_id -> Nullable<Int8>,
        reading_minutes -> Int4,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    customer_levels (id) {
        id -> Int8,
        name -> Text,
        discount_bps -> Int4,
        basis -> Text,
        threshold -> Int8,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    deposit_bonus_rules (id) {
        id -> Int8,
        method_id -> Nullable<Int8>,
        bonus_bps -> Int4,
        min_amount -> Int8,
        first_deposit_only -> Bool,
        active -> Bool,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    deposit_events (id) {
        id -> Int8,
        deposit_id -> Int8,
        source -> Text,
        gateway_status -> Text,
        outcome -> Text,
        fingerprint -> Text,
        payload -> Jsonb,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    drip_feeds (order_id) {
        order_id -> Int8,
        runs -> Int4,
        interval_minutes -> Int4,
        quantity_per_run -> Int8,
        total_charge -> Int8,
        runs_placed -> Int4,
        next_run_at -> Nullable<Timestamptz>,
        stopped_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    drip_feed_runs (order_id) {
        order_id -> Int8,
        parent_order_id -> Int8,
        run_number -> Int4,
    }
}

diesel::table! {
    deposit_methods (id) {
        id -> Int8,
        kind -> Text,
        name -> Text,
        bank_code -> Text,
        account_holder -> Text,
        account_number -> Text,
        qris_payload -> Nullable<Text>,
        instructions_id -> Text,
        instructions_en -> Text,
        min_amount -> Int8,
        max_amount -> Int8,
        credit_rate_bps -> Int4,
        active -> Bool,
        sort_order -> Int4,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    deposit_proofs (deposit_id) {
        deposit_id -> Int8,
        content_type -> Text,
        bytes -> Bytea,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    deposits (id) {
        id -> Int8,
        user_id -> Int8,
        amount -> Int8,
        gateway -> Text,
        status -> Text,
        merchant_ref -> Text,
        gateway_ref -> Nullable<Text>,
        payment_url -> Nullable<Text>,
        snap_token -> Nullable<Text>,
        expires_at -> Timestamptz,
        paid_at -> Nullable<Timestamptz>,
        flagged -> Bool,
        flag_reason -> Nullable<Text>,
        gateway_status -> Nullable<Text>,
        failure_reason -> Nullable<Text>,
        next_check_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        resolution -> Nullable<Text>,
        resolved_by -> Nullable<Int8>,
        resolved_at -> Nullable<Timestamptz>,
        resolution_note -> Nullable<Text>,
        method_id -> Nullable<Int8>,
        payable_amount -> Int8,
        unique_code -> Int4,
        qris_payload -> Nullable<Text>,
        customer_note -> Nullable<Text>,
        voucher_id -> Nullable<Int8>,
        bonus_amount -> Int8,
    }
}

diesel::table! {
    faq_entries (id) {
        id -> Int8,
        question -> Text,
        answer -> Text,
        category -> Text,
        language -> Text,
        published -> Bool,
        sort_order -> Int4,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    job_runs (name) {
        name -> Text,
        last_success_at -> Nullable<Timestamptz>,
        last_failure_at -> Nullable<Timestamptz>,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    ledger_entries (id) {
        id -> Int8,
        user_id -> Int8,
        amount -> Int8,
        balance_after -> Int8,
        kind -> Text,
        order_id -> Nullable<Int8>,
        mass_order_id -> Nullable<Int8>,
        deposit_id -> Nullable<Int8>,
        actor_id -> Nullable<Int8>,
        note -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    mail_outbox (id) {
        id -> Int8,
        to_address -> Text,
        subject -> Text,
        text_body -> Text,
        html_body -> Nullable<Text>,
        kind -> Text,
        user_id -> Nullable<Int8>,
        dedupe_key -> Nullable<Text>,
        status -> Text,
        attempts -> Int4,
        next_attempt_at -> Timestamptz,
        lease_until -> Nullable<Timestamptz>,
        last_error -> Nullable<Text>,
        sent_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        list_unsubscribe -> Nullable<Text>,
    }
}

diesel::table! {
    mass_orders (id) {
        id -> Int8,
        user_id -> Int8,
        order_count -> Int4,
        rejected_count -> Int4,
        total_charge -> Int8,
        all_or_nothing -> Bool,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    newsletter_subscribers (id) {
        id -> Int8,
        email -> Text,
        status -> Text,
        user_id -> Nullable<Int8>,
        confirmed_at -> Nullable<Timestamptz>,
        unsubscribed_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    notifications (id) {
        id -> Int8,
        user_id -> Nullable<Int8>,
        kind -> Text,
        message -> Text,
        order_id -> Nullable<Int8>,
        provider_id -> Nullable<Int8>,
        read_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    order_callbacks (user_id) {
        user_id -> Int8,
        url -> Text,
        secret_encrypted -> Bytea,
        paused_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    order_events (id) {
        id -> Int8,
        order_id -> Int8,
        status -> Text,
        start_count -> Nullable<Int8>,
        remains -> Nullable<Int8>,
        note -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    order_requests (id) {
        id -> Int8,
        order_id -> Int8,
        kind -> Text,
        status -> Text,
        provider_ref -> Nullable<Text>,
        note -> Text,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        lease_until -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    orders (id) {
        id -> Int8,
        user_id -> Int8,
        service_id -> Int8,
        mass_order_id -> Nullable<Int8>,
        link -> Text,
        quantity -> Int8,
        price_per_1000 -> Int8,
        charge -> Int8,
        status -> Text,
        extra -> Jsonb,
        start_count -> Nullable<Int8>,
        remains -> Nullable<Int8>,
        provider_id -> Nullable<Int8>,
        provider_order_id -> Nullable<Text>,
        refunded -> Int8,
        idempotency_key -> Nullable<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        provider_service_id -> Nullable<Text>,
        submit_attempts -> Int4,
        next_attempt_at -> Nullable<Timestamptz>,
        submitted_at -> Nullable<Timestamptz>,
        last_synced_at -> Nullable<Timestamptz>,
        last_error -> Nullable<Text>,
        fallback_used -> Bool,
        provider_rate -> Nullable<Numeric>,
        provider_exchange_rate -> Nullable<Numeric>,
        provider_cost -> Nullable<Int8>,
        completed_at -> Nullable<Timestamptz>,
        scheduled_at -> Nullable<Timestamptz>,
        link_guard -> Nullable<Text>,
    }
}

diesel::table! {
    provider_calls (id) {
        id -> Int8,
        provider_id -> Int8,
        action -> Text,
        ok -> Bool,
        latency_ms -> Int4,
        error -> Nullable<Text>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    providers (id) {
        id -> Int8,
        name -> Text,
        kind -> Text,
        base_url -> Text,
        api_key_encrypted -> Bytea,
        api_key_hint -> Text,
        api_id -> Nullable<Text>,
        currency -> Text,
        exchange_rate -> Numeric,
        markup_bps -> Nullable<Int4>,
        active -> Bool,
        settings -> Jsonb,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        unhealthy_until -> Nullable<Timestamptz>,
        consecutive_failures -> Int4,
        last_success_at -> Nullable<Timestamptz>,
        last_error -> Nullable<Text>,
        last_latency_ms -> Nullable<Int4>,
        balance -> Nullable<Numeric>,
        balance_checked_at -> Nullable<Timestamptz>,
        low_balance_threshold -> Nullable<Numeric>,
    }
}

diesel::table! {
    seo_keywords (id) {
        id -> Int8,
        keyword -> Text,
        subject_type -> Nullable<Text>,
        subject_id -> Nullable<Int8>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    seo_meta (subject_type, subject_id) {
        subject_type -> Text,
        subject_id -> Int8,
        meta_title -> Nullable<Text>,
        meta_description -> Nullable<Text>,
        keywords -> Array<Text>,
        canonical_url -> Nullable<Text>,
        og_title -> Nullable<Text>,
        og_description -> Nullable<Text>,
        og_image_url -> Nullable<Text>,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    service_categories (id) {
        id -> Int8,
        name -> Text,
        description -> Text,
        sort_order -> Int4,
        active -> Bool,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        slug -> Text,
    }
}

diesel::table! {
    service_figures (service_id) {
        service_id -> Int8,
        start_p50_seconds -> Nullable<Int8>,
        start_p90_seconds -> Nullable<Int8>,
        started_orders -> Int4,
        seconds_per_1000 -> Nullable<Int8>,
        timed_orders -> Int4,
        partial_or_canceled_bps -> Nullable<Int4>,
        ended_orders -> Int4,
        refill_requests_bps -> Nullable<Int4>,
        window_days -> Int4,
        computed_at -> Timestamptz,
    }
}

diesel::table! {
    service_updates (id) {
        id -> Int8,
        service_id -> Int8,
        kind -> Text,
        old_price_per_1000 -> Nullable<Int8>,
        new_price_per_1000 -> Nullable<Int8>,
        old_min_quantity -> Nullable<Int8>,
        new_min_quantity -> Nullable<Int8>,
        old_max_quantity -> Nullable<Int8>,
        new_max_quantity -> Nullable<Int8>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    services (id) {
        id -> Int8,
        category_id -> Int8,
        name -> Text,
        description -> Text,
        platform -> Text,
        service_type -> Text,
        provider_id -> Nullable<Int8>,
        provider_service_id -> Nullable<Text>,
        provider_rate -> Nullable<Numeric>,
        markup_bps -> Nullable<Int4>,
        fulfillment -> Text,
        price_per_1000 -> Int8,
        min_quantity -> Int8,
        max_quantity -> Int8,
        quantity_step -> Int8,
        refill -> Bool,
        cancel -> Bool,
        dripfeed -> Bool,
        active -> Bool,
        sort_order -> Int4,
        average_completion_seconds -> Nullable<Int8>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        fallback_service_id -> Nullable<Int8>,
        upstream_missing_since -> Nullable<Timestamptz>,
        sync_deactivated -> Bool,
        slug -> Text,
        refill_period_days -> Nullable<Int4>,
        refill_cooldown_hours -> Nullable<Int4>,
        same_link_guard -> Bool,
        dripfeed_by_panel -> Bool,
    }
}

diesel::table! {
    sessions (id) {
        id -> Int8,
        user_id -> Int8,
        token_hash -> Bytea,
        created_at -> Timestamptz,
        expires_at -> Timestamptz,
        last_used_at -> Timestamptz,
        revoked_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    sign_ins (id) {
        id -> Int8,
        user_id -> Nullable<Int8>,
        method -> Text,
        succeeded -> Bool,
        failure -> Nullable<Text>,
        ip_address -> Nullable<Text>,
        user_agent -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    slug_redirects (subject_type, old_slug) {
        subject_type -> Text,
        old_slug -> Text,
        subject_id -> Int8,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    staff_roles (id) {
        id -> Int8,
        name -> Text,
        permissions -> Array<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    stock_items (id) {
        id -> Int8,
        service_id -> Int8,
        content_encrypted -> Bytea,
        content_hash -> Bytea,
        order_id -> Nullable<Int8>,
        sold_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    ticket_messages (id) {
        id -> Int8,
        ticket_id -> Int8,
        author -> Text,
        author_id -> Nullable<Int8>,
        body -> Text,
        internal -> Bool,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    ticket_orders (ticket_id, order_id) {
        ticket_id -> Int8,
        order_id -> Int8,
    }
}

diesel::table! {
    tickets (id) {
        id -> Int8,
        user_id -> Int8,
        subject -> Text,
        topic -> Text,
        status -> Text,
        priority -> Text,
        assignee_id -> Nullable<Int8>,
        last_message_at -> Timestamptz,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    totp_recovery_codes (id) {
        id -> Int8,
        user_id -> Int8,
        code_hash -> Bytea,
        used_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    users (id) {
        id -> Int8,
        email -> Text,
        name -> Text,
        google_subject -> Nullable<Text>,
        role -> Text,
        banned_at -> Nullable<Timestamptz>,
        ban_reason -> Nullable<Text>,
        balance -> Int8,
        language -> Text,
        timezone -> Text,
        notify_order_updates -> Bool,
        notify_deposits -> Bool,
        notify_tickets -> Bool,
        notify_newsletter -> Bool,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        discount_bps -> Int4,
        admin_note -> Text,
        password_hash -> Nullable<Text>,
        email_verified_at -> Nullable<Timestamptz>,
        failed_sign_ins -> Int4,
        sign_in_delayed_until -> Nullable<Timestamptz>,
        totp_secret_encrypted -> Nullable<Bytea>,
        totp_enabled_at -> Nullable<Timestamptz>,
        totp_last_step -> Nullable<Int8>,
        staff_role_id -> Nullable<Int8>,
        level_id -> Nullable<Int8>,
        level_discount_bps -> Int4,
        level_set_by_admin -> Bool,
    }
}

diesel::table! {
    voucher_redemptions (voucher_id, user_id) {
        voucher_id -> Int8,
        user_id -> Int8,
        deposit_id -> Int8,
        bonus -> Int8,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    vouchers (id) {
        id -> Int8,
        code -> Text,
        kind -> Text,
        value -> Int8,
        max_bonus -> Nullable<Int8>,
        min_deposit -> Int8,
        starts_at -> Nullable<Timestamptz>,
        ends_at -> Nullable<Timestamptz>,
        max_uses -> Nullable<Int4>,
        uses -> Int4,
        active -> Bool,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::joinable!(account_tokens -> users (user_id));
diesel::joinable!(admin_audit_log -> users (admin_id));
diesel::joinable!(announcement_reads -> announcements (announcement_id));
diesel::joinable!(announcement_reads -> users (user_id));
diesel::joinable!(announcements -> users (author_id));
diesel::joinable!(api_keys -> users (user_id));
diesel::joinable!(bank_mutations -> deposits (deposit_id));
diesel::joinable!(bank_mutations -> users (resolved_by));
diesel::joinable!(catalog_changes -> providers (provider_id));
diesel::joinable!(catalog_changes -> services (service_id));
diesel::joinable!(service_figures -> services (service_id));
diesel::joinable!(service_updates -> services (service_id));
diesel::joinable!(content_items -> users (author_id));
diesel::joinable!(users -> customer_levels (level_id));
diesel::joinable!(deposit_bonus_rules -> deposit_methods (method_id));
diesel::joinable!(deposit_events -> deposits (deposit_id));
diesel::joinable!(deposit_proofs -> deposits (deposit_id));
diesel::joinable!(deposits -> deposit_methods (method_id));
diesel::joinable!(deposits -> users (user_id));
diesel::joinable!(deposits -> vouchers (voucher_id));
diesel::joinable!(ledger_entries -> deposits (deposit_id));
diesel::joinable!(ledger_entries -> users (user_id));
diesel::joinable!(mail_outbox -> users (user_id));
diesel::joinable!(mass_orders -> users (user_id));
diesel::joinable!(newsletter_subscribers -> users (user_id));
diesel::joinable!(order_events -> orders (order_id));
diesel::joinable!(order_requests -> orders (order_id));
diesel::joinable!(drip_feeds -> orders (order_id));
diesel::joinable!(drip_feed_runs -> orders (order_id));
diesel::joinable!(drip_feed_runs -> drip_feeds (parent_order_id));
diesel::joinable!(orders -> services (service_id));
diesel::joinable!(orders -> users (user_id));
diesel::joinable!(provider_calls -> providers (provider_id));
diesel::joinable!(services -> providers (provider_id));
diesel::joinable!(services -> service_categories (category_id));
diesel::joinable!(sessions -> users (user_id));
diesel::joinable!(sign_ins -> users (user_id));
diesel::joinable!(stock_items -> services (service_id));
diesel::joinable!(ticket_messages -> tickets (ticket_id));
diesel::joinable!(ticket_orders -> orders (order_id));
diesel::joinable!(ticket_orders -> tickets (ticket_id));
diesel::joinable!(totp_recovery_codes -> users (user_id));
diesel::joinable!(users -> staff_roles (staff_role_id));
diesel::joinable!(voucher_redemptions -> deposits (deposit_id));
diesel::joinable!(voucher_redemptions -> users (user_id));
diesel::joinable!(voucher_redemptions -> vouchers (voucher_id));

diesel::allow_tables_to_appear_in_same_query!(
    account_tokens,
    admin_audit_log,
    announcement_reads,
    announcements,
    api_keys,
    app_settings,
    bank_mutations,
    callback_deliveries,
    catalog_changes,
    chat_link_codes,
    chat_links,
    chat_messages,
    contact_messages,
    content_items,
    customer_levels,
    deposit_bonus_rules,
    deposit_events,
    deposit_methods,
    deposit_proofs,
    deposits,
    drip_feed_runs,
    drip_feeds,
    faq_entries,
    job_runs,
    ledger_entries,
    mail_outbox,
    mass_orders,
    newsletter_subscribers,
    notifications,
    order_callbacks,
    order_events,
    order_requests,
    orders,
    provider_calls,
    providers,
    seo_keywords,
    seo_meta,
    service_categories,
    service_figures,
    service_updates,
    services,
    sessions,
    sign_ins,
    slug_redirects,
    staff_roles,
    stock_items,
    ticket_messages,
    ticket_orders,
    tickets,
    totp_recovery_codes,
    users,
    voucher_redemptions,
    vouchers,
);
