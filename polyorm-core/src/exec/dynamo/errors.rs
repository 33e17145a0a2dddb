//! Maps `aws-sdk-dynamodb` errors to the ORM's [`Error`], the same variant as on SQL for the
//! same condition; the SDK's error is kept as the `source`.

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};

use crate::error::{BoxError, Error};

/// What a failed request means.
pub(crate) fn from_sdk<E, R>(error: SdkError<E, R>, table: &str) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    match &error {
        SdkError::DispatchFailure(failure) => {
            let source: BoxError = Box::new(error_text(&error));
            if failure.is_timeout() {
                return Error::Timeout { source };
            }
            if failure.is_io() {
                return Error::ConnectionLost { source };
            }
            return Error::Connection { source };
        }
        SdkError::TimeoutError(_) => {
            return Error::Timeout {
                source: Box::new(error_text(&error)),
            };
        }
        _ => {}
    }
    let code = error.code().unwrap_or_default().to_owned();
    let message = error.message().unwrap_or_default().to_owned();
    let source: BoxError = Box::new(error_text(&error));
    match code.as_str() {
        "ConditionalCheckFailedException" => Error::UniqueViolation {
            constraint: Some(format!("{table}_pkey")),
            source,
        },
        "ResourceNotFoundException" => Error::InvalidQuery(format!(
            "the DynamoDB table `{table}` does not exist ({message}); create it with \
             `db.create_table::<Model>()`"
        )),
        "TransactionConflictException" => Error::SerializationFailure { source },
        "UnrecognizedClientException"
        | "InvalidSignatureException"
        | "AccessDeniedException"
        | "MissingAuthenticationTokenException" => Error::Authentication { source },
        "ValidationException" => Error::InvalidQuery(format!(
            "DynamoDB refused a request on `{table}`: {message}"
        )),
        _ => Error::Database { source },
    }
}

/// The SDK error with its whole chain of causes, as text.
fn error_text<E, R>(error: &SdkError<E, R>) -> SdkErrorText
where
    E: std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let mut text = aws_sdk_dynamodb::error::DisplayErrorContext(error).to_string();
    if text.is_empty() {
        text = format!("{error:?}");
    }
    SdkErrorText(text)
}

/// The text of an SDK error (its types are generic per operation; the text is what a user
/// reads).
#[derive(Debug)]
pub(crate) struct SdkErrorText(pub(crate) String);

impl std::fmt::Display for SdkErrorText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SdkErrorText {}

/// Whether a request failed because its condition did not hold.
pub(crate) fn is_condition_failed<E, R>(error: &SdkError<E, R>) -> bool
where
    E: ProvideErrorMetadata,
{
    error.code() == Some("ConditionalCheckFailedException")
}

/// Whether a request failed because the table already or no longer exists.
pub(crate) fn has_code<E, R>(error: &SdkError<E, R>, code: &str) -> bool
where
    E: ProvideErrorMetadata,
{
    error.code() == Some(code)
}
