//! The extra fields each service type needs (comments, usernames, a poll answer,
//! ...), one small validator per type: each checks its fields, writes them into
//! the order's `extra` under their API v2 names and returns the quantity they
//! imply. Kept apart from `prepare` so that adding a type is one arm and one
//! function, each testable on its own. Pure: reads nothing.

use serde_json::{Map, Value, json};

use super::OrderInput;
use crate::{
    db::enums::ServiceType,
    error::{AppError, AppResult},
};

const MAX_LIST_LINES: usize = 10_000;
/// The longest text field an order may carry.
const MAX_TEXT: usize = 100_000;

/// An order's `extra` as it is being built.
pub(super) type Extra = Map<String, Value>;

/// Validates the fields `service_type` needs, adds them to `extra` and returns
/// the order's quantity before drip-feed (the given one, or the count the fields
/// imply). The quantity's bounds and step are checked by the caller.
pub(super) fn validate_type_fields(
    service_type: ServiceType,
    input: &OrderInput,
    extra: &mut Extra,
) -> AppResult<i64> {
    use ServiceType as T;
    match service_type {
        T::Default => quantity_given(input),
        // A package is one unit unless the buyer says otherwise.
        T::Package => Ok(input.quantity.unwrap_or(1)),
        T::CustomComments => custom_comments(input, extra),
        T::CustomCommentsPackage => custom_comments(input, extra).map(|_| 1),
        T::Mentions => mentions(input, extra),
        T::MentionsWithHashtags => mentions_with_hashtags(input, extra),
        T::MentionsCustomList => mentions_custom_list(input, extra),
        T::MentionsHashtag => text_then_quantity("hashtag", &input.extras.hashtag, input, extra),
        T::MentionsUserFollowers | T::CommentLikes => {
            text_then_quantity("username", &input.extras.username, input, extra)
        }
        T::MentionsMediaLikers => text_then_quantity("media", &input.extras.media, input, extra),
        T::CommentReplies => comment_replies(input, extra),
        T::Poll => poll(input, extra),
        T::InvitesFromGroups => invites_from_groups(input, extra),
        T::Subscriptions => subscriptions(input, extra),
    }
}

/// The delays (minutes) API v2 panels accept between a post and its delivery.
const SUBSCRIPTION_DELAYS: [i64; 22] = [
    0, 5, 10, 15, 20, 30, 40, 50, 60, 90, 120, 150, 180, 210, 240, 270, 300, 360, 420, 480, 540,
    600,
];
/// The most posts one subscription may cover.
const MAX_SUBSCRIPTION_POSTS: i64 = 10_000;

/// Subscriptions (auto-likes, auto-views on new posts): a username, `min` and
/// `max` units per post, `posts` new and/or `old_posts` existing posts, a
/// `delay` and an optional `expiry`. The quantity is what is reserved, every
/// post at `max` (the charge); what is not delivered comes back when the
/// subscription ends (`domain::upstream::subscription_view`). The per-post
/// bounds are the service's (checked by `prepare`).
fn subscriptions(input: &OrderInput, extra: &mut Extra) -> AppResult<i64> {
    let e = &input.extras;
    let username = required_text("username", &e.username)?;
    let (min, max) = match (e.min, e.max) {
        (Some(min), Some(max)) if 0 < min && min <= max => (min, max),
        (Some(_), Some(_)) => {
            return Err(AppError::validation(
                "max",
                "max must be at least min, and min above 0",
            ));
        }
        (None, _) => return Err(AppError::validation("min", "min is required")),
        (_, None) => return Err(AppError::validation("max", "max is required")),
    };
    let posts = e.posts.unwrap_or(0);
    let old_posts = e.old_posts.unwrap_or(0);
    for (field, value) in [("posts", posts), ("old_posts", old_posts)] {
        if !(0..=MAX_SUBSCRIPTION_POSTS).contains(&value) {
            return Err(AppError::validation(
                field,
                format!("{field} must be between 0 and {MAX_SUBSCRIPTION_POSTS}"),
            ));
        }
    }
    if posts + old_posts == 0 {
        return Err(AppError::validation(
            "posts",
            "posts or old_posts is required",
        ));
    }
    let delay = e.delay.unwrap_or(0);
    if !SUBSCRIPTION_DELAYS.contains(&delay) {
        return Err(AppError::validation(
            "delay",
            "delay must be one of 0, 5, 10, 15, 20, 30 ... 600 minutes",
        ));
    }
    if let Some(expiry) = e.expiry.as_deref().map(str::trim).filter(|x| !x.is_empty()) {
        let day = chrono::NaiveDate::parse_from_str(expiry, "%d/%m/%Y")
            .map_err(|_| AppError::validation("expiry", "expiry must be a date as d/m/Y"))?;
        if day < chrono::Utc::now().date_naive() {
            return Err(AppError::validation(
                "expiry",
                "expiry must not be in the past",
            ));
        }
        extra.insert("expiry".into(), json!(day.format("%d/%m/%Y").to_string()));
    }
    extra.insert("username".into(), json!(username));
    extra.insert("min".into(), json!(min));
    extra.insert("max".into(), json!(max));
    if posts > 0 {
        extra.insert("posts".into(), json!(posts));
    }
    if old_posts > 0 {
        extra.insert("old_posts".into(), json!(old_posts));
    }
    extra.insert("delay".into(), json!(delay));
    (posts + old_posts)
        .checked_mul(max)
        .ok_or_else(|| AppError::validation("max", "posts × max is too large"))
}

/// The quantity the buyer gave; types that do not imply one require it.
fn quantity_given(input: &OrderInput) -> AppResult<i64> {
    input
        .quantity
        .ok_or_else(|| AppError::validation("quantity", "quantity is required"))
}

/// One comment per line; the quantity is their number, and a quantity the buyer
/// gave must agree with it.
fn custom_comments(input: &OrderInput, extra: &mut Extra) -> AppResult<i64> {
    let comments = required_lines("comments", &input.extras.comments)?;
    let count = comments.len() as i64;
    if input.quantity.is_some_and(|q| q != count) {
        return Err(AppError::validation(
            "quantity",
            "quantity must equal the number of comments (one per line)",
        ));
    }
    extra.insert("comments".into(), json!(comments.join("\n")));
    Ok(count)
}

fn mentions(input: &OrderInput, extra: &mut Extra) -> AppResult<i64> {
    insert_lines("usernames", &input.extras.usernames, extra)?;
    quantity_given(input)
}

fn mentions_with_hashtags(input: &OrderInput, extra: &mut Extra) -> AppResult<i64> {
    insert_lines("usernames", &input.extras.usernames, extra)?;
    insert_lines("hashtags", &input.extras.hashtags, extra)?;
    quantity_given(input)
}

/// One mention per username listed: the quantity is their number.
fn mentions_custom_list(input: &OrderInput, extra: &mut Extra) -> AppResult<i64> {
    let usernames = required_lines("usernames", &input.extras.usernames)?;
    let count = usernames.len() as i64;
    extra.insert("usernames".into(), json!(usernames.join("\n")));
    Ok(count)
}

/// A reply per comment listed, to `username`'s comment: the quantity is the
/// number of comments.
fn comment_replies(input: &OrderInput, extra: &mut Extra) -> AppResult<i64> {
    let username = required_text("username", &input.extras.username)?;
    extra.insert("username".into(), json!(username));
    let comments = required_lines("comments", &input.extras.comments)?;
    let count = comments.len() as i64;
    extra.insert("comments".into(), json!(comments.join("\n")));
    Ok(count)
}

fn poll(input: &OrderInput, extra: &mut Extra) -> AppResult<i64> {
    let answer = input.extras.answer_number.ok_or_else(|| {
        AppError::validation("answerNumber", "answerNumber is required for a poll")
    })?;
    if answer < 1 {
        return Err(AppError::validation(
            "answerNumber",
            "answerNumber starts at 1",
        ));
    }
    extra.insert("answer_number".into(), json!(answer));
    quantity_given(input)
}

fn invites_from_groups(input: &OrderInput, extra: &mut Extra) -> AppResult<i64> {
    insert_lines("groups", &input.extras.groups, extra)?;
    quantity_given(input)
}

/// One required text field (a hashtag, a username, a media link) and the
/// quantity the buyer gave.
fn text_then_quantity(
    field: &'static str,
    value: &Option<String>,
    input: &OrderInput,
    extra: &mut Extra,
) -> AppResult<i64> {
    extra.insert(field.into(), json!(required_text(field, value)?));
    quantity_given(input)
}

/// A required list, stored one entry per line.
fn insert_lines(field: &'static str, value: &Option<String>, extra: &mut Extra) -> AppResult<()> {
    extra.insert(
        field.into(),
        json!(required_lines(field, value)?.join("\n")),
    );
    Ok(())
}

fn required_text(field: &str, value: &Option<String>) -> AppResult<String> {
    let value = value.as_deref().map(str::trim).unwrap_or("");
    if value.is_empty() {
        return Err(AppError::validation(
            field,
            format!("{field} is required for this service"),
        ));
    }
    if value.len() > MAX_TEXT {
        return Err(AppError::validation(field, format!("{field} is too long")));
    }
    Ok(value.to_string())
}

fn required_lines(field: &str, value: &Option<String>) -> AppResult<Vec<String>> {
    let text = required_text(field, value)?;
    let lines: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect();
    if lines.len() > MAX_LIST_LINES {
        return Err(AppError::validation(
            field,
            format!("at most {MAX_LIST_LINES} lines"),
        ));
    }
    Ok(lines)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::orders::OrderExtras;

    fn input(quantity: Option<i64>, extras: OrderExtras) -> OrderInput {
        OrderInput {
            service_id: 1,
            link: "https://x.com/a".into(),
            quantity,
            extras,
            idempotency_key: None,
            start_at: None,
        }
    }

    fn run(service_type: ServiceType, input: &OrderInput) -> AppResult<(i64, Value)> {
        let mut extra = Extra::new();
        let quantity = validate_type_fields(service_type, input, &mut extra)?;
        Ok((quantity, Value::Object(extra)))
    }

    /// The VALIDATION field an input is refused on.
    fn refused_on(service_type: ServiceType, input: &OrderInput) -> String {
        match run(service_type, input) {
            Err(AppError::Validation { field, .. }) => field,
            other => panic!("expected a VALIDATION error, got {other:?}"),
        }
    }

    fn some(text: &str) -> Option<String> {
        Some(text.to_string())
    }

    #[test]
    fn default_needs_a_quantity() {
        let ok = run(
            ServiceType::Default,
            &input(Some(500), OrderExtras::default()),
        )
        .unwrap();
        assert_eq!(ok, (500, json!({})));
        let missing = input(None, OrderExtras::default());
        assert_eq!(refused_on(ServiceType::Default, &missing), "quantity");
    }

    #[test]
    fn package_defaults_to_one() {
        let t = ServiceType::Package;
        assert_eq!(run(t, &input(None, OrderExtras::default())).unwrap().0, 1);
        assert_eq!(
            run(t, &input(Some(3), OrderExtras::default())).unwrap().0,
            3
        );
    }

    #[test]
    fn custom_comments_count_the_lines() {
        let extras = OrderExtras {
            comments: some(" nice \n\n great\n"),
            ..Default::default()
        };
        let (quantity, extra) =
            run(ServiceType::CustomComments, &input(None, extras.clone())).unwrap();
        assert_eq!((quantity, extra), (2, json!({ "comments": "nice\ngreat" })));
        assert!(run(ServiceType::CustomComments, &input(Some(2), extras.clone())).is_ok());
        let wrong_count = input(Some(3), extras.clone());
        assert_eq!(
            refused_on(ServiceType::CustomComments, &wrong_count),
            "quantity"
        );
        let (package, _) = run(ServiceType::CustomCommentsPackage, &input(None, extras)).unwrap();
        assert_eq!(package, 1);
        let blank = input(
            None,
            OrderExtras {
                comments: some("  \n "),
                ..Default::default()
            },
        );
        assert_eq!(refused_on(ServiceType::CustomComments, &blank), "comments");
        assert_eq!(
            refused_on(ServiceType::CustomCommentsPackage, &blank),
            "comments"
        );
    }

    #[test]
    fn lists_and_texts_are_bounded() {
        let many = "a\n".repeat(MAX_LIST_LINES + 1);
        let too_many = input(
            None,
            OrderExtras {
                comments: Some(many),
                ..Default::default()
            },
        );
        assert_eq!(
            refused_on(ServiceType::CustomComments, &too_many),
            "comments"
        );
        let long = "a".repeat(MAX_TEXT + 1);
        let too_long = input(
            Some(10),
            OrderExtras {
                hashtag: Some(long),
                ..Default::default()
            },
        );
        assert_eq!(
            refused_on(ServiceType::MentionsHashtag, &too_long),
            "hashtag"
        );
    }

    #[test]
    fn mentions_need_usernames_and_a_quantity() {
        let extras = OrderExtras {
            usernames: some("a\nb"),
            ..Default::default()
        };
        let (quantity, extra) =
            run(ServiceType::Mentions, &input(Some(100), extras.clone())).unwrap();
        assert_eq!((quantity, extra), (100, json!({ "usernames": "a\nb" })));
        assert_eq!(
            refused_on(ServiceType::Mentions, &input(None, extras)),
            "quantity"
        );
        let none = input(Some(100), OrderExtras::default());
        assert_eq!(refused_on(ServiceType::Mentions, &none), "usernames");
    }

    #[test]
    fn mentions_with_hashtags_need_both_lists() {
        let t = ServiceType::MentionsWithHashtags;
        let both = OrderExtras {
            usernames: some("a"),
            hashtags: some("#x\n#y"),
            ..Default::default()
        };
        let (quantity, extra) = run(t, &input(Some(50), both)).unwrap();
        assert_eq!(
            (quantity, extra),
            (50, json!({ "usernames": "a", "hashtags": "#x\n#y" }))
        );
        let no_tags = input(
            Some(50),
            OrderExtras {
                usernames: some("a"),
                ..Default::default()
            },
        );
        assert_eq!(refused_on(t, &no_tags), "hashtags");
        let no_names = input(
            Some(50),
            OrderExtras {
                hashtags: some("#x"),
                ..Default::default()
            },
        );
        assert_eq!(refused_on(t, &no_names), "usernames");
    }

    #[test]
    fn mentions_custom_list_counts_usernames() {
        let t = ServiceType::MentionsCustomList;
        let extras = OrderExtras {
            usernames: some("a\nb\nc"),
            ..Default::default()
        };
        // The list decides the quantity, whatever the buyer typed.
        let (quantity, extra) = run(t, &input(Some(99), extras)).unwrap();
        assert_eq!((quantity, extra), (3, json!({ "usernames": "a\nb\nc" })));
        assert_eq!(
            refused_on(t, &input(None, OrderExtras::default())),
            "usernames"
        );
    }

    #[test]
    fn single_text_fields() {
        for (t, field) in [
            (ServiceType::MentionsHashtag, "hashtag"),
            (ServiceType::MentionsUserFollowers, "username"),
            (ServiceType::CommentLikes, "username"),
            (ServiceType::MentionsMediaLikers, "media"),
        ] {
            let extras = OrderExtras {
                hashtag: some(" tag "),
                username: some(" tag "),
                media: some(" tag "),
                ..Default::default()
            };
            let (quantity, extra) = run(t, &input(Some(10), extras.clone())).unwrap();
            assert_eq!((quantity, extra), (10, json!({ field: "tag" })), "{t}");
            assert_eq!(refused_on(t, &input(None, extras)), "quantity", "{t}");
            assert_eq!(
                refused_on(t, &input(Some(10), OrderExtras::default())),
                field,
                "{t}"
            );
        }
    }

    #[test]
    fn comment_replies_need_a_username_then_comments() {
        let t = ServiceType::CommentReplies;
        let extras = OrderExtras {
            username: some("jack"),
            comments: some("one\ntwo"),
            ..Default::default()
        };
        let (quantity, extra) = run(t, &input(None, extras)).unwrap();
        assert_eq!(
            (quantity, extra),
            (2, json!({ "username": "jack", "comments": "one\ntwo" }))
        );
        let no_user = input(
            None,
            OrderExtras {
                comments: some("one"),
                ..Default::default()
            },
        );
        assert_eq!(refused_on(t, &no_user), "username");
        let no_comments = input(
            None,
            OrderExtras {
                username: some("jack"),
                ..Default::default()
            },
        );
        assert_eq!(refused_on(t, &no_comments), "comments");
    }

    #[test]
    fn poll_needs_an_answer_from_one() {
        let t = ServiceType::Poll;
        let answer = |n| OrderExtras {
            answer_number: Some(n),
            ..Default::default()
        };
        let (quantity, extra) = run(t, &input(Some(100), answer(2))).unwrap();
        assert_eq!((quantity, extra), (100, json!({ "answer_number": 2 })));
        assert_eq!(refused_on(t, &input(Some(100), answer(0))), "answerNumber");
        assert_eq!(
            refused_on(t, &input(Some(100), OrderExtras::default())),
            "answerNumber"
        );
        assert_eq!(refused_on(t, &input(None, answer(1))), "quantity");
    }

    #[test]
    fn invites_need_groups() {
        let t = ServiceType::InvitesFromGroups;
        let extras = OrderExtras {
            groups: some("g1\ng2"),
            ..Default::default()
        };
        let (quantity, extra) = run(t, &input(Some(20), extras)).unwrap();
        assert_eq!((quantity, extra), (20, json!({ "groups": "g1\ng2" })));
        assert_eq!(
            refused_on(t, &input(Some(20), OrderExtras::default())),
            "groups"
        );
    }

    #[test]
    fn subscriptions_reserve_every_post_at_max() {
        let subscription = |posts, old_posts, delay, expiry: Option<&str>| OrderExtras {
            username: some("jack"),
            min: Some(100),
            max: Some(150),
            posts,
            old_posts,
            delay,
            expiry: expiry.map(str::to_string),
            ..Default::default()
        };
        let (quantity, extra) = run(
            ServiceType::Subscriptions,
            &input(
                None,
                subscription(Some(10), Some(2), Some(30), Some("31/12/2099")),
            ),
        )
        .unwrap();
        assert_eq!(quantity, 12 * 150);
        assert_eq!(
            extra,
            json!({ "username": "jack", "min": 100, "max": 150, "posts": 10, "old_posts": 2, "delay": 30, "expiry": "31/12/2099" })
        );
        let t = ServiceType::Subscriptions;
        let refused = |extras| refused_on(t, &input(None, extras));
        assert_eq!(refused(subscription(None, None, None, None)), "posts");
        assert_eq!(refused(subscription(Some(1), None, Some(7), None)), "delay");
        assert_eq!(
            refused(subscription(Some(1), None, None, Some("2099-12-31"))),
            "expiry"
        );
        assert_eq!(
            refused(subscription(Some(1), None, None, Some("01/01/2000"))),
            "expiry"
        );
        let upside_down = OrderExtras {
            min: Some(200),
            ..subscription(Some(1), None, None, None)
        };
        assert_eq!(refused(upside_down), "max");
        let nobody = OrderExtras {
            username: None,
            ..subscription(Some(1), None, None, None)
        };
        assert_eq!(refused(nobody), "username");
    }
}
