//! EC2's errors: a code (`InvalidVpcID.NotFound`, …), a message, an HTTP status,
//! written as EC2 writes them.

use super::xml::escape;

/// One EC2 error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ec2Error {
    /// HTTP status.
    pub status: u16,
    /// EC2's code.
    pub code: String,
    /// Its message.
    pub message: String,
}

impl Ec2Error {
    /// An error of `code` with `message` (400).
    pub fn new(code: &str, message: impl Into<String>) -> Ec2Error {
        Ec2Error {
            status: 400,
            code: code.to_owned(),
            message: message.into(),
        }
    }

    /// `MissingParameter`.
    pub fn missing(name: &str) -> Ec2Error {
        Ec2Error::new(
            "MissingParameter",
            format!("The request must contain the parameter {name}"),
        )
    }

    /// `InvalidParameterValue`.
    pub fn invalid_parameter(message: String) -> Ec2Error {
        Ec2Error::new("InvalidParameterValue", message)
    }

    /// `<Kind>.NotFound` (`InvalidVpcID.NotFound`): "The vpc ID 'x' does not exist".
    pub fn not_found(code: &str, what: &str, id: &str) -> Ec2Error {
        Ec2Error::new(code, format!("The {what} ID '{id}' does not exist"))
    }

    /// `DryRunOperation` (412): the request would have succeeded.
    pub fn dry_run() -> Ec2Error {
        Ec2Error {
            status: 412,
            code: "DryRunOperation".to_owned(),
            message: "Request would have succeeded, but DryRun flag is set.".to_owned(),
        }
    }

    /// The error document.
    pub fn to_xml(&self, request_id: &str) -> String {
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>{}</Code><Message>{}</Message></Error></Errors><RequestID>{}</RequestID></Response>",
            escape(&self.code),
            escape(&self.message),
            escape(request_id)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_written_as_ec2_writes_them() {
        let e = Ec2Error::not_found("InvalidVpcID.NotFound", "vpc", "vpc-<1>");
        assert_eq!(
            e.to_xml("r-1"),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>InvalidVpcID.NotFound</Code><Message>The vpc ID 'vpc-&lt;1&gt;' does not exist</Message></Error></Errors><RequestID>r-1</RequestID></Response>"
        );
        assert_eq!(Ec2Error::dry_run().status, 412);
    }
}
