//! Broker error codes.
//!
//! Every response that can fail carries an `int16` error code. [`ErrorCode`]
//! wraps that number without losing it: a code this crate does not know
//! (because a newer broker sent it) is kept as-is and can be re-encoded
//! unchanged. Known codes have a name, a short description and a
//! retriability flag, all taken from one table that follows Apache Kafka's
//! `Errors.java` (codes -1 through 135).
//!
//! "Retriable" has the meaning of Kafka's generated error table: the Java
//! exception mapped to the code extends `RetriableException`, directly or
//! through `RefreshRetriableException` / `InvalidMetadataException`. It says
//! the same request may succeed later, perhaps after a metadata refresh. It
//! is not a promise that retrying is the right reaction for every request.
//!
//! ```
//! use kafka_proto::ErrorCode;
//!
//! let code = ErrorCode::from(6);
//! assert_eq!(code, ErrorCode::NOT_LEADER_OR_FOLLOWER);
//! assert_eq!(code.name(), "NOT_LEADER_OR_FOLLOWER");
//! assert!(code.is_retriable());
//!
//! let future = ErrorCode::from(9999);
//! assert!(!future.is_known());
//! assert_eq!(i16::from(future), 9999);
//! assert_eq!(future.to_string(), "unknown error code 9999");
//! ```

use std::fmt;

/// A Kafka error code as carried on the wire (`int16`).
///
/// `0` ([`ErrorCode::NONE`]) means success. Unknown codes are kept verbatim;
/// [`ErrorCode::is_known`] tells them apart. The default value is
/// [`ErrorCode::NONE`].
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct ErrorCode(pub i16);

/// One row of the error table.
struct Entry {
    code: i16,
    name: &'static str,
    description: &'static str,
    retriable: bool,
}

/// Defines one associated constant per code and the lookup table, from a
/// single list, so that the number, name, description and retriability of a
/// code are written exactly once.
macro_rules! error_codes {
    ($( ($code:literal, $name:ident, $retriable:literal, $description:literal), )*) => {
        impl ErrorCode {
            $(
                #[doc = concat!("`", stringify!($code), "`: ", $description)]
                pub const $name: ErrorCode = ErrorCode($code);
            )*
        }

        /// Every known code, sorted by code, from -1 with no gaps.
        const TABLE: &[Entry] = &[
            $(
                Entry {
                    code: $code,
                    name: stringify!($name),
                    description: $description,
                    retriable: $retriable,
                },
            )*
        ];
    };
}

// (code, NAME, retriable, description)
error_codes! {
    (-1, UNKNOWN_SERVER_ERROR, false, "The server experienced an unexpected error when processing the request."),
    (0, NONE, false, "No error."),
    (1, OFFSET_OUT_OF_RANGE, false, "The requested offset is not within the range of offsets maintained by the server."),
    (2, CORRUPT_MESSAGE, true, "The message failed its CRC check, exceeds the valid size, has a null key for a compacted topic, or is otherwise corrupt."),
    (3, UNKNOWN_TOPIC_OR_PARTITION, true, "This server does not host this topic-partition."),
    (4, INVALID_FETCH_SIZE, false, "The requested fetch size is invalid."),
    (5, LEADER_NOT_AVAILABLE, true, "There is no leader for this topic-partition, as a leader election is in progress."),
    (6, NOT_LEADER_OR_FOLLOWER, true, "The broker is not the leader (for leader-only requests) or not a replica (for requests any replica may serve) of the partition."),
    (7, REQUEST_TIMED_OUT, true, "The request timed out."),
    (8, BROKER_NOT_AVAILABLE, false, "The broker is not available."),
    (9, REPLICA_NOT_AVAILABLE, true, "The replica is not available for the requested topic-partition."),
    (10, MESSAGE_TOO_LARGE, false, "The request included a message larger than the maximum message size the server accepts."),
    (11, STALE_CONTROLLER_EPOCH, false, "The controller moved to another broker."),
    (12, OFFSET_METADATA_TOO_LARGE, false, "The metadata field of the offset request was too large."),
    (13, NETWORK_EXCEPTION, true, "The server disconnected before a response was received."),
    (14, COORDINATOR_LOAD_IN_PROGRESS, true, "The coordinator is loading and hence can't process requests."),
    (15, COORDINATOR_NOT_AVAILABLE, true, "The coordinator is not available."),
    (16, NOT_COORDINATOR, true, "This is not the correct coordinator."),
    (17, INVALID_TOPIC_EXCEPTION, false, "The request attempted to perform an operation on an invalid topic."),
    (18, RECORD_LIST_TOO_LARGE, false, "The request included a message batch larger than the configured segment size on the server."),
    (19, NOT_ENOUGH_REPLICAS, true, "Messages are rejected since there are fewer in-sync replicas than required."),
    (20, NOT_ENOUGH_REPLICAS_AFTER_APPEND, true, "Messages are written to the log, but to fewer in-sync replicas than required."),
    (21, INVALID_REQUIRED_ACKS, false, "Produce request specified an invalid value for required acks."),
    (22, ILLEGAL_GENERATION, false, "Specified group generation id is not valid."),
    (23, INCONSISTENT_GROUP_PROTOCOL, false, "The member's protocol type or protocols are empty or incompatible with those of the existing members."),
    (24, INVALID_GROUP_ID, false, "The group id is invalid."),
    (25, UNKNOWN_MEMBER_ID, false, "The coordinator is not aware of this member."),
    (26, INVALID_SESSION_TIMEOUT, false, "The session timeout is not within the range allowed by the broker (group.min/max.session.timeout.ms)."),
    (27, REBALANCE_IN_PROGRESS, false, "The group is rebalancing, so a rejoin is needed."),
    (28, INVALID_COMMIT_OFFSET_SIZE, false, "The committing offset data size is not valid."),
    (29, TOPIC_AUTHORIZATION_FAILED, false, "Topic authorization failed."),
    (30, GROUP_AUTHORIZATION_FAILED, false, "Group authorization failed."),
    (31, CLUSTER_AUTHORIZATION_FAILED, false, "Cluster authorization failed."),
    (32, INVALID_TIMESTAMP, false, "The timestamp of the message is out of acceptable range."),
    (33, UNSUPPORTED_SASL_MECHANISM, false, "The broker does not support the requested SASL mechanism."),
    (34, ILLEGAL_SASL_STATE, false, "Request is not valid given the current SASL state."),
    (35, UNSUPPORTED_VERSION, false, "The version of API is not supported."),
    (36, TOPIC_ALREADY_EXISTS, false, "Topic with this name already exists."),
    (37, INVALID_PARTITIONS, false, "Number of partitions is below 1."),
    (38, INVALID_REPLICATION_FACTOR, false, "Replication factor is below 1 or larger than the number of available brokers."),
    (39, INVALID_REPLICA_ASSIGNMENT, false, "Replica assignment is invalid."),
    (40, INVALID_CONFIG, false, "Configuration is invalid."),
    (41, NOT_CONTROLLER, true, "This is not the correct controller for this cluster."),
    (42, INVALID_REQUEST, false, "The request is malformed or was sent to an incompatible broker; see the broker logs for details."),
    (43, UNSUPPORTED_FOR_MESSAGE_FORMAT, false, "The message format version on the broker does not support the request."),
    (44, POLICY_VIOLATION, false, "Request parameters do not satisfy the configured policy."),
    (45, OUT_OF_ORDER_SEQUENCE_NUMBER, false, "The broker received an out of order sequence number."),
    (46, DUPLICATE_SEQUENCE_NUMBER, false, "The broker received a duplicate sequence number."),
    (47, INVALID_PRODUCER_EPOCH, false, "Producer attempted to produce with an old epoch."),
    (48, INVALID_TXN_STATE, false, "The producer attempted a transactional operation in an invalid state."),
    (49, INVALID_PRODUCER_ID_MAPPING, false, "The producer attempted to use a producer id which is not currently assigned to its transactional id."),
    (50, INVALID_TRANSACTION_TIMEOUT, false, "The transaction timeout is larger than the maximum the broker allows (transaction.max.timeout.ms)."),
    (51, CONCURRENT_TRANSACTIONS, true, "The producer attempted to update a transaction while another concurrent operation on the same transaction was ongoing."),
    (52, TRANSACTION_COORDINATOR_FENCED, false, "The transaction coordinator sending a WriteTxnMarker is no longer the current coordinator for the producer."),
    (53, TRANSACTIONAL_ID_AUTHORIZATION_FAILED, false, "Transactional id authorization failed."),
    (54, SECURITY_DISABLED, false, "Security features are disabled."),
    (55, OPERATION_NOT_ATTEMPTED, false, "The broker did not attempt this operation, typically because another operation in the same batch failed."),
    (56, KAFKA_STORAGE_ERROR, true, "Disk error when trying to access a log file on the disk."),
    (57, LOG_DIR_NOT_FOUND, false, "The user-specified log directory is not found in the broker config."),
    (58, SASL_AUTHENTICATION_FAILED, false, "SASL authentication failed."),
    (59, UNKNOWN_PRODUCER_ID, false, "The broker has no metadata for this producer id, for example because all its records were removed by retention."),
    (60, REASSIGNMENT_IN_PROGRESS, false, "A partition reassignment is in progress."),
    (61, DELEGATION_TOKEN_AUTH_DISABLED, false, "Delegation token feature is not enabled."),
    (62, DELEGATION_TOKEN_NOT_FOUND, false, "Delegation token is not found on server."),
    (63, DELEGATION_TOKEN_OWNER_MISMATCH, false, "Specified principal is not a valid owner/renewer."),
    (64, DELEGATION_TOKEN_REQUEST_NOT_ALLOWED, false, "Delegation token requests are not allowed on PLAINTEXT/1-way SSL channels or on delegation-token-authenticated channels."),
    (65, DELEGATION_TOKEN_AUTHORIZATION_FAILED, false, "Delegation token authorization failed."),
    (66, DELEGATION_TOKEN_EXPIRED, false, "Delegation token is expired."),
    (67, INVALID_PRINCIPAL_TYPE, false, "Supplied principal type is not supported."),
    (68, NON_EMPTY_GROUP, false, "The group is not empty."),
    (69, GROUP_ID_NOT_FOUND, false, "The group id does not exist."),
    (70, FETCH_SESSION_ID_NOT_FOUND, true, "The fetch session ID was not found."),
    (71, INVALID_FETCH_SESSION_EPOCH, true, "The fetch session epoch is invalid."),
    (72, LISTENER_NOT_FOUND, true, "The leader broker has no listener matching the one on which the metadata request was processed."),
    (73, TOPIC_DELETION_DISABLED, false, "Topic deletion is disabled."),
    (74, FENCED_LEADER_EPOCH, true, "The leader epoch in the request is older than the epoch on the broker."),
    (75, UNKNOWN_LEADER_EPOCH, true, "The leader epoch in the request is newer than the epoch on the broker."),
    (76, UNSUPPORTED_COMPRESSION_TYPE, false, "The requesting client does not support the compression type of the given partition."),
    (77, STALE_BROKER_EPOCH, false, "Broker epoch has changed."),
    (78, OFFSET_NOT_AVAILABLE, true, "The leader high watermark has not caught up after a recent leader election, so offsets may not be monotonic yet."),
    (79, MEMBER_ID_REQUIRED, false, "The group member needs a valid member id before actually entering a consumer group."),
    (80, PREFERRED_LEADER_NOT_AVAILABLE, true, "The preferred leader was not available."),
    (81, GROUP_MAX_SIZE_REACHED, false, "The group has reached its maximum size."),
    (82, FENCED_INSTANCE_ID, false, "Another consumer with the same group.instance.id has registered with a different member.id."),
    (83, ELIGIBLE_LEADERS_NOT_AVAILABLE, true, "Eligible topic partition leaders are not available."),
    (84, ELECTION_NOT_NEEDED, true, "Leader election not needed for topic partition."),
    (85, NO_REASSIGNMENT_IN_PROGRESS, false, "No partition reassignment is in progress."),
    (86, GROUP_SUBSCRIBED_TO_TOPIC, false, "Deleting offsets of a topic is forbidden while the consumer group is actively subscribed to it."),
    (87, INVALID_RECORD, false, "This record has failed validation on the broker and hence was rejected."),
    (88, UNSTABLE_OFFSET_COMMIT, true, "There are unstable offsets that need to be cleared."),
    (89, THROTTLING_QUOTA_EXCEEDED, true, "The throttling quota has been exceeded."),
    (90, PRODUCER_FENCED, false, "There is a newer producer with the same transactional id which fences the current one."),
    (91, RESOURCE_NOT_FOUND, false, "A request illegally referred to a resource that does not exist."),
    (92, DUPLICATE_RESOURCE, false, "A request illegally referred to the same resource twice."),
    (93, UNACCEPTABLE_CREDENTIAL, false, "Requested credential would not meet criteria for acceptability."),
    (94, INCONSISTENT_VOTER_SET, false, "The sender or recipient of a voter-only request is not one of the expected voters."),
    (95, INVALID_UPDATE_VERSION, false, "The given update version was invalid."),
    (96, FEATURE_UPDATE_FAILED, false, "Unable to update finalized features due to an unexpected server error."),
    (97, PRINCIPAL_DESERIALIZATION_FAILURE, false, "Request principal deserialization failed during forwarding (broker security setup error)."),
    (98, SNAPSHOT_NOT_FOUND, false, "Requested snapshot was not found."),
    (99, POSITION_OUT_OF_RANGE, false, "Requested position is negative or not less than the size of the snapshot."),
    (100, UNKNOWN_TOPIC_ID, true, "This server does not host this topic ID."),
    (101, DUPLICATE_BROKER_REGISTRATION, false, "This broker ID is already in use."),
    (102, BROKER_ID_NOT_REGISTERED, false, "The given broker ID was not registered."),
    (103, INCONSISTENT_TOPIC_ID, true, "The log's topic ID did not match the topic ID in the request."),
    (104, INCONSISTENT_CLUSTER_ID, false, "The cluster id in the request does not match that found on the server."),
    (105, TRANSACTIONAL_ID_NOT_FOUND, false, "The transactional id could not be found."),
    (106, FETCH_SESSION_TOPIC_ID_ERROR, true, "The fetch session encountered inconsistent topic ID usage."),
    (107, INELIGIBLE_REPLICA, false, "The new ISR contains at least one ineligible replica."),
    (108, NEW_LEADER_ELECTED, false, "The AlterPartition request updated the partition state but the leader has changed."),
    (109, OFFSET_MOVED_TO_TIERED_STORAGE, false, "The requested offset is moved to tiered storage."),
    (110, FENCED_MEMBER_EPOCH, false, "The member epoch is fenced by the group coordinator; the member must abandon its partitions and rejoin."),
    (111, UNRELEASED_INSTANCE_ID, false, "The instance ID is still used by another member in the consumer group, which must leave first."),
    (112, UNSUPPORTED_ASSIGNOR, false, "The assignor or its version range is not supported by the consumer group."),
    (113, STALE_MEMBER_EPOCH, false, "The member epoch is stale; retry after receiving the updated member epoch via ConsumerGroupHeartbeat."),
    (114, MISMATCHED_ENDPOINT_TYPE, false, "The request was sent to an endpoint of the wrong type."),
    (115, UNSUPPORTED_ENDPOINT_TYPE, false, "This endpoint type is not supported yet."),
    (116, UNKNOWN_CONTROLLER_ID, false, "This controller ID is not known."),
    (117, UNKNOWN_SUBSCRIPTION_ID, false, "Client sent a push telemetry request with an invalid or outdated subscription ID."),
    (118, TELEMETRY_TOO_LARGE, false, "Client sent a push telemetry request larger than the maximum size the broker accepts."),
    (119, INVALID_REGISTRATION, false, "The controller has considered the broker registration to be invalid."),
    (120, TRANSACTION_ABORTABLE, false, "The transaction hit an error; the client can abort it and keep using this transactional id."),
    (121, INVALID_RECORD_STATE, false, "The record state is invalid; the acknowledgement of delivery could not be completed."),
    (122, SHARE_SESSION_NOT_FOUND, true, "The share session was not found."),
    (123, INVALID_SHARE_SESSION_EPOCH, true, "The share session epoch is invalid."),
    (124, FENCED_STATE_EPOCH, false, "The share coordinator rejected the request because the share-group state epoch did not match."),
    (125, INVALID_VOTER_KEY, false, "The voter key doesn't match the receiving replica's key."),
    (126, DUPLICATE_VOTER, false, "The voter is already part of the set of voters."),
    (127, VOTER_NOT_FOUND, false, "The voter is not part of the set of voters."),
    (128, INVALID_REGULAR_EXPRESSION, false, "The regular expression is not valid."),
    (129, REBOOTSTRAP_REQUIRED, false, "Client metadata is stale; the client should rebootstrap to obtain new metadata."),
    (130, STREAMS_INVALID_TOPOLOGY, false, "The supplied topology is invalid."),
    (131, STREAMS_INVALID_TOPOLOGY_EPOCH, false, "The supplied topology epoch is invalid."),
    (132, STREAMS_TOPOLOGY_FENCED, false, "The supplied topology epoch is outdated."),
    (133, SHARE_SESSION_LIMIT_REACHED, true, "The limit of share sessions has been reached."),
    (134, GROUP_DELETION_FAILED, false, "DeleteGroups could not complete for this group; see the per-group error message."),
    (135, STREAMS_TOPOLOGY_DESCRIPTION_UPDATE_FAILED, false, "The broker could not process the topology description update; see the error message."),
}

impl ErrorCode {
    /// The name returned by [`ErrorCode::name`] for a code not in the table.
    pub const UNKNOWN_NAME: &'static str = "UNKNOWN_CODE";

    /// The raw wire value.
    #[must_use]
    pub const fn code(self) -> i16 {
        self.0
    }

    /// `true` for [`ErrorCode::NONE`] (code 0), the only success value.
    #[must_use]
    pub fn is_ok(self) -> bool {
        self.0 == 0
    }

    /// `true` if the code is one this crate knows (see [`ErrorCode::known`]).
    #[must_use]
    pub fn is_known(self) -> bool {
        self.entry().is_some()
    }

    /// The upper-case name Kafka gives the code, such as
    /// `"NOT_LEADER_OR_FOLLOWER"`, or [`ErrorCode::UNKNOWN_NAME`].
    #[must_use]
    pub fn name(self) -> &'static str {
        self.entry().map_or(Self::UNKNOWN_NAME, |e| e.name)
    }

    /// A one-line description of the code, or a generic text for unknown codes.
    #[must_use]
    pub fn description(self) -> &'static str {
        self.entry()
            .map_or("The error code is not known to this client.", |e| {
                e.description
            })
    }

    /// Whether Kafka classes the code as retriable (its Java exception
    /// extends `RetriableException`). Unknown codes are not retriable, as
    /// Kafka treats them like [`ErrorCode::UNKNOWN_SERVER_ERROR`].
    #[must_use]
    pub fn is_retriable(self) -> bool {
        self.entry().is_some_and(|e| e.retriable)
    }

    /// Every known code, in ascending order, starting with
    /// [`ErrorCode::UNKNOWN_SERVER_ERROR`].
    #[must_use]
    pub fn known() -> impl ExactSizeIterator<Item = ErrorCode> + Clone {
        TABLE.iter().map(|e| ErrorCode(e.code))
    }

    fn entry(self) -> Option<&'static Entry> {
        // The table is contiguous from its first code (checked by a test).
        let index = i32::from(self.0) - i32::from(TABLE[0].code);
        usize::try_from(index).ok().and_then(|i| TABLE.get(i))
    }
}

impl From<i16> for ErrorCode {
    fn from(code: i16) -> Self {
        ErrorCode(code)
    }
}

impl From<ErrorCode> for i16 {
    fn from(code: ErrorCode) -> Self {
        code.0
    }
}

/// `NAME (code): description`, or `unknown error code N`.
impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.entry() {
            Some(e) => write!(f, "{} ({}): {}", e.name, e.code, e.description),
            None => write!(f, "unknown error code {}", self.0),
        }
    }
}

/// `NAME(code)`, with `UNKNOWN_CODE` as the name of an unknown code.
impl fmt::Debug for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}({})", self.name(), self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn spot_checks() {
        assert!(ErrorCode(6).is_retriable());
        assert_eq!(ErrorCode(6).name(), "NOT_LEADER_OR_FOLLOWER");
        assert!(!ErrorCode(45).is_retriable());
        assert_eq!(ErrorCode(45), ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER);
        assert!(ErrorCode(74).is_retriable());
        assert_eq!(ErrorCode(74).name(), "FENCED_LEADER_EPOCH");
        assert!(ErrorCode(89).is_retriable());
        assert_eq!(ErrorCode(89).name(), "THROTTLING_QUOTA_EXCEEDED");
        assert_eq!(ErrorCode(100).name(), "UNKNOWN_TOPIC_ID");
        assert_eq!(ErrorCode::UNKNOWN_TOPIC_ID.code(), 100);
        assert_eq!(ErrorCode::UNKNOWN_SERVER_ERROR.code(), -1);
        assert!(!ErrorCode::UNKNOWN_SERVER_ERROR.is_retriable());
        assert_eq!(ErrorCode::default(), ErrorCode::NONE);
    }

    #[test]
    fn none_is_ok_and_nothing_else_is() {
        assert!(ErrorCode::NONE.is_ok());
        assert!(!ErrorCode::NONE.is_retriable());
        assert!(ErrorCode::known()
            .filter(|c| *c != ErrorCode::NONE)
            .all(|c| !c.is_ok()));
        assert!(!ErrorCode(9999).is_ok());
    }

    #[test]
    fn table_is_unique_contiguous_and_sorted() {
        assert_eq!(TABLE[0].code, -1);
        for (i, entry) in TABLE.iter().enumerate() {
            assert_eq!(usize::try_from(entry.code + 1), Ok(i), "{}", entry.name);
        }
        let names: HashSet<_> = TABLE.iter().map(|e| e.name).collect();
        assert_eq!(names.len(), TABLE.len(), "duplicate names");
        assert_eq!(TABLE.last().unwrap().code, 135);
        assert_eq!(ErrorCode::known().len(), 137);
    }

    #[test]
    fn names_and_descriptions_are_well_formed() {
        for e in TABLE {
            assert!(
                e.name
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_'),
                "{}",
                e.name
            );
            assert!(!e.description.is_empty(), "{}", e.name);
            assert!(!e.description.contains('\n'), "{}", e.name);
            assert_eq!(ErrorCode(e.code).name(), e.name);
            assert_eq!(ErrorCode(e.code).description(), e.description);
        }
    }

    #[test]
    fn unknown_codes_are_kept() {
        for raw in [-2, 136, 9999, i16::MAX, i16::MIN] {
            let code = ErrorCode::from(raw);
            assert!(!code.is_known());
            assert!(!code.is_retriable());
            assert!(!code.is_ok());
            assert_eq!(code.code(), raw);
            assert_eq!(i16::from(code), raw);
            assert_eq!(code.name(), ErrorCode::UNKNOWN_NAME);
        }
        assert_eq!(ErrorCode(9999).to_string(), "unknown error code 9999");
        assert_eq!(format!("{:?}", ErrorCode(9999)), "UNKNOWN_CODE(9999)");
    }

    #[test]
    fn formatting() {
        let code = ErrorCode::NOT_LEADER_OR_FOLLOWER;
        assert_eq!(format!("{code:?}"), "NOT_LEADER_OR_FOLLOWER(6)");
        assert_eq!(
            code.to_string(),
            format!("NOT_LEADER_OR_FOLLOWER (6): {}", code.description())
        );
        assert_eq!(
            format!("{:?}", ErrorCode::UNKNOWN_SERVER_ERROR),
            "UNKNOWN_SERVER_ERROR(-1)"
        );
    }

    /// FACTS.md section 6: the codes a replicator must handle.
    #[test]
    fn agrees_with_facts_table() {
        const FACTS: &[(i16, &str, bool)] = &[
            (1, "OFFSET_OUT_OF_RANGE", false),
            (2, "CORRUPT_MESSAGE", true),
            (3, "UNKNOWN_TOPIC_OR_PARTITION", true),
            (6, "NOT_LEADER_OR_FOLLOWER", true),
            (10, "MESSAGE_TOO_LARGE", false),
            (14, "COORDINATOR_LOAD_IN_PROGRESS", true),
            (16, "NOT_COORDINATOR", true),
            (18, "RECORD_LIST_TOO_LARGE", false),
            (27, "REBALANCE_IN_PROGRESS", false),
            (29, "TOPIC_AUTHORIZATION_FAILED", false),
            (45, "OUT_OF_ORDER_SEQUENCE_NUMBER", false),
            (46, "DUPLICATE_SEQUENCE_NUMBER", false),
            (47, "INVALID_PRODUCER_EPOCH", false),
            (58, "SASL_AUTHENTICATION_FAILED", false),
            (59, "UNKNOWN_PRODUCER_ID", false),
            (74, "FENCED_LEADER_EPOCH", true),
            (89, "THROTTLING_QUOTA_EXCEEDED", true),
            (-1, "UNKNOWN_SERVER_ERROR", false),
        ];
        for &(raw, name, retriable) in FACTS {
            let code = ErrorCode(raw);
            assert_eq!(code.name(), name, "code {raw}");
            assert_eq!(code.is_retriable(), retriable, "{name}");
        }
    }

    #[test]
    fn retriable_set_matches_java_hierarchy() {
        // Codes whose Java exception extends RetriableException (directly,
        // or via RefreshRetriableException / InvalidMetadataException).
        let retriable: Vec<i16> = ErrorCode::known()
            .filter(|c| c.is_retriable())
            .map(ErrorCode::code)
            .collect();
        assert_eq!(
            retriable,
            [
                2, 3, 5, 6, 7, 9, 13, 14, 15, 16, 19, 20, 41, 51, 56, 70, 71, 72, 74, 75, 78, 80,
                83, 84, 88, 89, 100, 103, 106, 122, 123, 133
            ]
        );
    }

    #[test]
    fn ordering_and_hash_follow_the_number() {
        assert!(ErrorCode::UNKNOWN_SERVER_ERROR < ErrorCode::NONE);
        let set: HashSet<_> = ErrorCode::known().collect();
        assert_eq!(set.len(), TABLE.len());
    }
}
