//! Group coordinators, found with FindCoordinator.

use kafka_proto::messages::find_coordinator_request::FindCoordinatorRequest;
use kafka_proto::messages::FindCoordinatorResponse;
use kafka_proto::{ApiKey, ErrorCode};

use super::Cluster;
use crate::address::{BrokerAddress, BrokerLabel};
use crate::connection::Connection;
use crate::error::Error;

impl Cluster {
    /// Finds the group coordinator for `group` and connects to it.
    pub async fn group_coordinator(&self, group: &str) -> Result<(BrokerLabel, Connection), Error> {
        let conn = self.any_connection().await?;
        let version = conn.version(ApiKey::FindCoordinator)?;
        let mut request = FindCoordinatorRequest {
            key_type: 0,
            ..Default::default()
        };
        if version >= 4 {
            request.coordinator_keys = vec![group.to_owned()];
        } else {
            request.key = group.to_owned();
        }
        let response: FindCoordinatorResponse = conn.send_version(&request, version).await?;
        let (code, message, node_id, host, port) = if version >= 4 {
            let c = response
                .coordinators
                .into_iter()
                .find(|c| c.key == group)
                .ok_or_else(|| Error::Protocol {
                    broker: conn.broker().clone(),
                    api: Some(ApiKey::FindCoordinator),
                    reason: format!("the response has no entry for group {group:?}"),
                })?;
            (c.error_code, c.error_message, c.node_id, c.host, c.port)
        } else {
            (
                response.error_code,
                response.error_message,
                response.node_id,
                response.host,
                response.port,
            )
        };
        let code = ErrorCode(code);
        if !code.is_ok() {
            return Err(Error::Broker {
                broker: conn.broker().clone(),
                api: ApiKey::FindCoordinator,
                code,
                context: Some(format!("group {group:?}")),
                message,
            });
        }
        let port = u16::try_from(port)
            .ok()
            .filter(|&p| p > 0)
            .ok_or_else(|| Error::Protocol {
                broker: conn.broker().clone(),
                api: Some(ApiKey::FindCoordinator),
                reason: format!("the coordinator's port {port} is invalid"),
            })?;
        let address = BrokerAddress::new(host, port);
        let conn = self.connection_or_refresh(node_id, &address).await?;
        Ok((BrokerLabel::node(node_id, address), conn))
    }
}
