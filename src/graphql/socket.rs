//! What an operation over the WebSocket may do. The socket is for subscriptions
//! (and the queries a live view needs); mutations go over `POST /graphql`, where
//! every request checks the credential's current state and runs to its end even if
//! the client goes away. A mutation sent over the socket is refused before it runs.

use std::sync::Arc;

use async_graphql::{
    ServerResult, Variables,
    extensions::{Extension, ExtensionContext, ExtensionFactory, NextParseQuery},
    parser::types::{ExecutableDocument, OperationType},
};

use super::error::ApiError;
use crate::error::AppError;

/// Connection data marking a request that arrived over the WebSocket.
#[derive(Clone, Copy, Debug)]
pub struct OverWebSocket;

/// Installed on the schema; acts only on requests carrying [`OverWebSocket`].
pub struct SocketPolicy;

impl ExtensionFactory for SocketPolicy {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(SocketPolicy)
    }
}

#[async_trait::async_trait]
impl Extension for SocketPolicy {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await?;
        let mutates = document
            .operations
            .iter()
            .any(|(_, operation)| operation.node.ty == OperationType::Mutation);
        if mutates && ctx.data_opt::<OverWebSocket>().is_some() {
            return Err(ApiError::from(AppError::BadRequest(
                "mutations are not accepted over the WebSocket; send them with POST /graphql"
                    .into(),
            ))
            .into_server_error());
        }
        Ok(document)
    }
}
