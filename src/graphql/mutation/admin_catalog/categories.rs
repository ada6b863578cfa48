//! Admin writes to service categories: create, update, reorder.

use async_graphql::{Context, ID, InputObject, Object};
use serde_json::json;

use crate::{
    domain::{
        audit::{Subject, Summary},
        catalog::{self, CategoryInput},
    },
    graphql::{
        admin_write, conn, error::GraphqlResult, guards::RoleGuard, parse_id, parse_ids,
        types::catalog::ServiceCategory,
    },
};

#[derive(Default)]
pub struct CategoryMutation;

#[derive(InputObject)]
pub struct CreateCategoryInput {
    pub name: String,
    #[graphql(default)]
    pub description: String,
    /// Position; defaults to after the last category.
    pub sort_order: Option<i32>,
    #[graphql(default = true)]
    pub active: bool,
}

impl From<CreateCategoryInput> for CategoryInput {
    fn from(input: CreateCategoryInput) -> Self {
        CategoryInput {
            name: Some(input.name),
            description: Some(input.description),
            sort_order: input.sort_order,
            active: Some(input.active),
        }
    }
}

#[derive(InputObject)]
pub struct UpdateCategoryInput {
    pub name: Option<String>,
    pub description: Option<String>,
    pub sort_order: Option<i32>,
    pub active: Option<bool>,
}

impl From<UpdateCategoryInput> for CategoryInput {
    fn from(input: UpdateCategoryInput) -> Self {
        // Taken apart, so a field added to the input and not carried over does not compile.
        let UpdateCategoryInput {
            name,
            description,
            sort_order,
            active,
        } = input;
        CategoryInput {
            name,
            description,
            sort_order,
            active,
        }
    }
}

#[Object]
impl CategoryMutation {
    /// Creates a service category (admins). Its name is unique; new categories go last in the display order.
    #[graphql(guard = "RoleGuard::Staff(crate::db::enums::Permission::Catalog)")]
    async fn admin_create_category(
        &self,
        ctx: &Context<'_>,
        input: CreateCategoryInput,
    ) -> GraphqlResult<ServiceCategory> {
        let row = admin_write(ctx, "category.create")?
            .create(&mut *conn(ctx).await?, Subject::Category, async |conn| {
                catalog::create_category(conn, input.into()).await
            })
            .await?;
        Ok(ServiceCategory(row))
    }

    /// Renames, describes, (de)activates or moves a category (admins). Deactivating hides its services from the catalogue.
    #[graphql(guard = "RoleGuard::Staff(crate::db::enums::Permission::Catalog)")]
    async fn admin_update_category(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateCategoryInput,
    ) -> GraphqlResult<ServiceCategory> {
        let id = parse_id("id", &id)?;
        let row = admin_write(ctx, "category.update")?
            .change(
                &mut *conn(ctx).await?,
                Subject::Category,
                id,
                async |conn| catalog::update_category(conn, id, input.into()).await,
            )
            .await?;
        Ok(ServiceCategory(row))
    }

    /// Sets the display order of all categories: `ids` lists every category once.
    #[graphql(guard = "RoleGuard::Staff(crate::db::enums::Permission::Catalog)")]
    async fn admin_reorder_categories(
        &self,
        ctx: &Context<'_>,
        ids: Vec<ID>,
    ) -> GraphqlResult<Vec<ServiceCategory>> {
        let ids = parse_ids("ids", &ids)?;
        let rows = admin_write(ctx, "category.reorder")?
            .bulk(
                &mut *conn(ctx).await?,
                Subject::Category.as_str(),
                async |conn| {
                    let rows = catalog::reorder_categories(conn, &ids).await?;
                    Ok((rows, Summary::after(json!({ "ids": ids }))))
                },
            )
            .await?;
        Ok(rows.into_iter().map(ServiceCategory).collect())
    }
}
