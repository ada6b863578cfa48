//! The newsletter: signup (limited per client address, double opt-in),
//! confirmation and unsubscribe by signed link, and an issue sent by an admin.

use async_graphql::{Context, Object};

use crate::{
    db::enums::Language,
    domain::{audit::Summary, content::newsletter},
    error::AppError,
    graphql::{
        ClientAddress, admin_write, conn, error::GraphqlResult, guards::RoleGuard, state, viewer,
    },
    rate_limit::IpRateLimiter,
};

/// Newsletter signups per client address (schema data).
pub struct NewsletterSignupLimiter(pub IpRateLimiter);

#[derive(Default)]
pub struct NewsletterMutation;

/// Refuses a signup past the client address's limit.
fn check_signup_limit(ctx: &Context<'_>) -> GraphqlResult<()> {
    if let Some(ClientAddress(Some(ip))) = ctx.data_opt::<ClientAddress>()
        && let Some(limiter) = ctx.data_opt::<NewsletterSignupLimiter>()
        && limiter.0.check(*ip).is_err()
    {
        return Err(AppError::RateLimited.into());
    }
    Ok(())
}

#[Object]
impl NewsletterMutation {
    /// Signs an address up for the newsletter. A confirmation link is mailed to
    /// it (double opt-in); a signed-in user's own address is subscribed at once.
    /// Always true, whether or not the address was subscribed already. Limited
    /// per client address (RATE_LIMITED).
    async fn subscribe_newsletter(
        &self,
        ctx: &Context<'_>,
        email: String,
        #[graphql(
            desc = "The language of the confirmation mail (default: the signed-in user's, else Indonesian)."
        )]
        language: Option<Language>,
    ) -> GraphqlResult<bool> {
        check_signup_limit(ctx)?;
        let signed_in = viewer(ctx).0.as_ref();
        let lang = match (language, signed_in) {
            (Some(language), _) => language,
            (None, Some(user)) => user.user.language,
            (None, None) => Language::Id,
        };
        let state = state(ctx);
        newsletter::sign_up_and_mail(
            &mut *conn(ctx).await?,
            &state.tokens,
            &state.config.content.public_base_url,
            &email,
            signed_in.map(|user| (user.id(), user.user.email.as_str())),
            lang,
        )
        .await?;
        Ok(true)
    }

    /// Queues a newsletter issue (Markdown) for every confirmed address, each
    /// mail with its one-click unsubscribe link (admins). Returns how many mails
    /// were queued.
    #[graphql(guard = "RoleGuard::Staff(crate::db::enums::Permission::Content)")]
    async fn admin_send_newsletter(
        &self,
        ctx: &Context<'_>,
        subject: String,
        body: String,
    ) -> GraphqlResult<i32> {
        let (tokens, base_url) = (
            &state(ctx).tokens,
            &state(ctx).config.content.public_base_url,
        );
        let queued = admin_write(ctx, "newsletter.send")?
            .bulk(&mut *conn(ctx).await?, "newsletter", async |conn| {
                let queued =
                    newsletter::send_issue(conn, tokens, base_url, &subject, &body).await?;
                let summary = serde_json::json!({ "subject": subject, "recipients": queued });
                Ok((queued, Summary::after(summary)))
            })
            .await?;
        Ok(queued as i32)
    }

    /// Confirms a newsletter address with the token from its confirmation link.
    async fn confirm_newsletter(
        &self,
        ctx: &Context<'_>,
        email: String,
        token: String,
    ) -> GraphqlResult<bool> {
        newsletter::confirm(&mut *conn(ctx).await?, &state(ctx).tokens, &email, &token).await?;
        Ok(true)
    }

    /// Unsubscribes a newsletter address with the token from any newsletter mail.
    async fn unsubscribe_newsletter(
        &self,
        ctx: &Context<'_>,
        email: String,
        token: String,
    ) -> GraphqlResult<bool> {
        newsletter::unsubscribe(&mut *conn(ctx).await?, &state(ctx).tokens, &email, &token).await?;
        Ok(true)
    }
}
