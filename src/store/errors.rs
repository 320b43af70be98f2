//! Store errors, classified once so handlers map them without looking at driver messages.

/// What went wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be reached or did not answer in time.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// A uniqueness constraint refused the write (a race lost, a duplicate name).
    #[error("constraint violated: {0}")]
    Conflict(String),
    /// Stored data could not be understood (a bug or a damaged row).
    #[error("stored data is invalid: {0}")]
    Corrupt(String),
    /// The database refused a value it cannot represent, such as a NUL character in text
    /// (PostgreSQL SQLSTATE 22021, 22P05): bad input that got past validation, not an outage.
    #[error("the database refused a value: {0}")]
    Rejected(String),
    /// The database's disk is full (SQLite `SQLITE_FULL`, PostgreSQL SQLSTATE 53100): writes
    /// fail until space is freed; nothing was written.
    #[error("the database's disk is full: {0}")]
    Full(String),
}

/// SQLite's `SQLITE_FULL` result code and PostgreSQL's `disk_full` SQLSTATE.
const DISK_FULL_CODES: [&str; 2] = ["13", "53100"];

/// SQLSTATEs of values PostgreSQL cannot store: `character_not_in_repertoire` (a NUL in text)
/// and `untranslatable_character` (`\u0000` in JSON).
const REJECTED_VALUE_STATES: [&str; 2] = ["22021", "22P05"];

pub type StoreResult<T> = Result<T, StoreError>;

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                StoreError::Conflict(db.constraint().unwrap_or("unique").to_string())
            }
            sqlx::Error::Database(db)
                if db
                    .code()
                    .is_some_and(|c| REJECTED_VALUE_STATES.contains(&c.as_ref())) =>
            {
                StoreError::Rejected(db.message().to_string())
            }
            sqlx::Error::Database(db)
                if db
                    .code()
                    .is_some_and(|c| DISK_FULL_CODES.contains(&c.as_ref())) =>
            {
                StoreError::Full(db.message().to_string())
            }
            sqlx::Error::ColumnDecode { .. }
            | sqlx::Error::Decode(_)
            | sqlx::Error::ColumnNotFound(_)
            | sqlx::Error::ColumnIndexOutOfBounds { .. }
            | sqlx::Error::TypeNotFound { .. } => StoreError::Corrupt(e.to_string()),
            _ => StoreError::Unavailable(e.to_string()),
        }
    }
}

impl From<super::stored_enums::UnknownValue> for StoreError {
    fn from(e: super::stored_enums::UnknownValue) -> Self {
        StoreError::Corrupt(e.to_string())
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        StoreError::Unavailable(format!("migration failed: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::borrow::Cow;

    /// A database error with a given SQLSTATE, as a driver would report it.
    #[derive(Debug)]
    struct Coded(&'static str);

    impl std::fmt::Display for Coded {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "sqlstate {}", self.0)
        }
    }
    impl std::error::Error for Coded {}

    impl sqlx::error::DatabaseError for Coded {
        fn message(&self) -> &str {
            "invalid byte sequence for encoding \"UTF8\": 0x00"
        }
        fn code(&self) -> Option<Cow<'_, str>> {
            Some(Cow::Borrowed(self.0))
        }
        fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
            self
        }
        fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
            self
        }
        fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
            self
        }
        fn kind(&self) -> sqlx::error::ErrorKind {
            sqlx::error::ErrorKind::Other
        }
    }

    fn classify(code: &'static str) -> StoreError {
        StoreError::from(sqlx::Error::Database(Box::new(Coded(code))))
    }

    #[test]
    fn unstorable_values_are_rejected_input_not_an_outage() {
        for code in ["22021", "22P05"] {
            assert!(matches!(classify(code), StoreError::Rejected(_)), "{code}");
        }
        // Anything else the database says is still an outage.
        assert!(matches!(classify("57P01"), StoreError::Unavailable(_)));
    }

    #[test]
    fn a_full_disk_is_named_as_such() {
        for code in ["13", "53100"] {
            assert!(matches!(classify(code), StoreError::Full(_)), "{code}");
        }
    }
}
