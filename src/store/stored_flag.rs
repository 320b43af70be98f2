//! Flags as stored: BIGINT 0/1 on both backends (PostgreSQL BOOLEAN would need another query
//! text). Rows hold them as `bool`, read through [`StoredFlag`]
//! (`#[sqlx(try_from = "StoredFlag")]`), and writes bind [`flag`], so the stored value is the
//! 0/1 it always was. Any other stored integer is a decode error (`StoreError::Corrupt`).

use super::stored_enums::UnknownValue;
use sqlx::any::{AnyTypeInfo, AnyValueRef};
use sqlx::error::BoxDynError;
use sqlx::{Any, Decode, Type};

/// A flag column as read, before it is checked to be 0 or 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredFlag(pub i64);

impl Type<Any> for StoredFlag {
    fn type_info() -> AnyTypeInfo {
        <i64 as Type<Any>>::type_info()
    }
    fn compatible(ty: &AnyTypeInfo) -> bool {
        <i64 as Type<Any>>::compatible(ty)
    }
}

impl<'r> Decode<'r, Any> for StoredFlag {
    fn decode(value: AnyValueRef<'r>) -> Result<Self, BoxDynError> {
        <i64 as Decode<'r, Any>>::decode(value).map(StoredFlag)
    }
}

impl TryFrom<StoredFlag> for bool {
    type Error = UnknownValue;

    fn try_from(f: StoredFlag) -> Result<bool, UnknownValue> {
        match f.0 {
            0 => Ok(false),
            1 => Ok(true),
            other => Err(UnknownValue {
                what: "flag",
                value: other.to_string(),
            }),
        }
    }
}

/// The stored form of a flag.
pub const fn flag(on: bool) -> i64 {
    if on {
        1
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_zero_and_one_are_flags() {
        assert_eq!(bool::try_from(StoredFlag(0)), Ok(false));
        assert_eq!(bool::try_from(StoredFlag(1)), Ok(true));
        assert!(bool::try_from(StoredFlag(2)).is_err());
        assert!(bool::try_from(StoredFlag(-1)).is_err());
        assert_eq!((flag(false), flag(true)), (0, 1));
    }
}
