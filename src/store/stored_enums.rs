//! The closed sets stored as text: statuses, triggers, identity types and token kinds. Each
//! is an enum whose `as_str` is exactly the text stored (and shown on the wire); reading a
//! row parses it, and a stored text outside the set is a decode error, which the store reports
//! as `StoreError::Corrupt`. Writes bind `as_str()`, so the stored text is unchanged.

use crate::domain::secret::SecretType;
use sqlx::any::{AnyTypeInfo, AnyValueRef};
use sqlx::error::BoxDynError;
use sqlx::{Any, Decode, Type};

/// A stored text outside its closed set (or a flag other than 0/1).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown stored {what}: {value:?}")]
pub struct UnknownValue {
    pub what: &'static str,
    pub value: String,
}

/// Decodes a text column (sqlx `Any`) into a type with `parse(&str) -> Option<Self>`.
macro_rules! decode_as_text {
    ($name:ty, $what:literal) => {
        impl Type<Any> for $name {
            fn type_info() -> AnyTypeInfo {
                <str as Type<Any>>::type_info()
            }
            fn compatible(ty: &AnyTypeInfo) -> bool {
                <str as Type<Any>>::compatible(ty)
            }
        }

        impl<'r> Decode<'r, Any> for $name {
            fn decode(value: AnyValueRef<'r>) -> Result<Self, BoxDynError> {
                let text = <String as Decode<'r, Any>>::decode(value)?;
                <$name>::parse(&text).ok_or_else(|| {
                    Box::new(UnknownValue {
                        what: $what,
                        value: text,
                    }) as BoxDynError
                })
            }
        }
    };
}

/// An enum of a closed stored set: `as_str`, `parse`, `Display`, `Serialize` (as its text)
/// and decoding from a text column.
macro_rules! stored_enum {
    (
        $(#[$doc:meta])*
        $name:ident ($what:literal) {
            $($(#[$vdoc:meta])* $variant:ident => $text:literal,)+
        }
    ) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vdoc])* $variant,)+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [Self] = &[$(Self::$variant,)+];

            /// The text stored for this value.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text,)+
                }
            }

            /// The value stored as `text`; None outside the set.
            pub fn parse(text: &str) -> Option<Self> {
                match text {
                    $($text => Some(Self::$variant),)+
                    _ => None,
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = UnknownValue;
            fn from_str(text: &str) -> Result<Self, UnknownValue> {
                Self::parse(text).ok_or_else(|| UnknownValue {
                    what: $what,
                    value: text.to_string(),
                })
            }
        }

        decode_as_text!($name, $what);
    };
}

stored_enum! {
    /// Where a delivery stands (`deliveries.status`).
    DeliveryStatus ("delivery status") {
        /// Due (or retrying) and not yet finished.
        Pending => "pending",
        Success => "success",
        /// Retries exhausted, or the endpoint is gone.
        Failed => "failed",
        /// Its webhook was disabled or deleted before it finished.
        Cancelled => "cancelled",
    }
}

stored_enum! {
    /// A webhook's delivery health (`webhooks.status`). A disabled webhook keeps its stored
    /// health; the API reports it as `disabled` from the `enabled` flag.
    WebhookHealth ("webhook status") {
        Healthy => "healthy",
        Failing => "failing",
    }
}

stored_enum! {
    /// Where an attached secret's rotation cycle stands (`rotation_schedule.status`).
    ScheduleStatus ("rotation schedule status") {
        /// Waiting for `next_rotation_at`.
        Scheduled => "scheduled",
        /// A rotation is open and inside its grace period.
        Pending => "pending",
        /// A rotation is open past its grace period.
        Overdue => "overdue",
    }
}

stored_enum! {
    /// The state of one rotation (`rotation_history.status`).
    RotationStatus ("rotation status") {
        Pending => "pending",
        Success => "success",
        Failed => "failed",
        Overdue => "overdue",
    }
}

stored_enum! {
    /// What opened a rotation (`rotation_history.trigger`).
    RotationTrigger ("rotation trigger") {
        /// The scheduler, when the interval passed.
        Schedule => "schedule",
        /// A caller forced it.
        Manual => "manual",
    }
}

stored_enum! {
    /// Who a token or an audit row speaks for (`tokens.identity_type`,
    /// `audit_log.identity_type`).
    IdentityType ("identity type") {
        User => "user",
        ServiceAccount => "service_account",
        /// Background or command-line work (audit rows only).
        System => "system",
    }
}

stored_enum! {
    /// How a token came to exist (`tokens.kind`).
    TokenKind ("token kind") {
        /// Created through the API or `scaivault tokens create`.
        Api => "api",
        /// The first start's bootstrap token.
        Bootstrap => "bootstrap",
        /// The operator's root token from the environment.
        RootEnv => "root_env",
        /// The development server's root token.
        DevRoot => "dev_root",
    }
}

decode_as_text!(SecretType, "secret type");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_value_parses_back_from_its_stored_text() {
        fn round_trip<T: Copy + PartialEq + std::fmt::Debug>(
            all: &[T],
            as_str: fn(T) -> &'static str,
            parse: fn(&str) -> Option<T>,
        ) {
            for v in all {
                assert_eq!(parse(as_str(*v)), Some(*v));
            }
            assert_eq!(parse("PENDING"), None);
            assert_eq!(parse(""), None);
        }
        round_trip(
            DeliveryStatus::ALL,
            DeliveryStatus::as_str,
            DeliveryStatus::parse,
        );
        round_trip(
            WebhookHealth::ALL,
            WebhookHealth::as_str,
            WebhookHealth::parse,
        );
        round_trip(
            ScheduleStatus::ALL,
            ScheduleStatus::as_str,
            ScheduleStatus::parse,
        );
        round_trip(
            RotationStatus::ALL,
            RotationStatus::as_str,
            RotationStatus::parse,
        );
        round_trip(
            RotationTrigger::ALL,
            RotationTrigger::as_str,
            RotationTrigger::parse,
        );
        round_trip(IdentityType::ALL, IdentityType::as_str, IdentityType::parse);
        round_trip(TokenKind::ALL, TokenKind::as_str, TokenKind::parse);
    }

    #[test]
    fn stored_texts_are_the_ones_written_before_the_enums() {
        let texts: Vec<&str> = DeliveryStatus::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(texts, ["pending", "success", "failed", "cancelled"]);
        assert_eq!(IdentityType::ServiceAccount.as_str(), "service_account");
        assert_eq!(TokenKind::RootEnv.as_str(), "root_env");
        assert_eq!(TokenKind::DevRoot.as_str(), "dev_root");
        assert_eq!(
            serde_json::to_string(&RotationTrigger::Manual)
                .ok()
                .as_deref(),
            Some("\"manual\"")
        );
    }

    #[test]
    fn an_unknown_text_is_an_error_naming_the_set() {
        let err = "paused".parse::<ScheduleStatus>().err();
        assert_eq!(
            err.map(|e| e.to_string()).as_deref(),
            Some("unknown stored rotation schedule status: \"paused\"")
        );
    }
}
