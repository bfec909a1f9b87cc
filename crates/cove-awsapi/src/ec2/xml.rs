//! A small writer of EC2's XML answers (pure).

/// EC2's namespace for API version 2016-11-15.
pub const NAMESPACE: &str = "http://ec2.amazonaws.com/doc/2016-11-15/";

/// Escapes text content for XML (`&`, `<`, `>`; quotes stay as EC2 writes them:
/// nothing here is ever an attribute's value).
pub fn escape(text: &str) -> String {
    let mut s = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => s.push_str("&amp;"),
            '<' => s.push_str("&lt;"),
            '>' => s.push_str("&gt;"),
            c => s.push(c),
        }
    }
    s
}

/// An XML fragment being written.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Xml(pub String);

impl Xml {
    /// Appends `text` escaped.
    fn push_escaped(&mut self, text: &str) {
        if !text.contains(['&', '<', '>']) {
            self.0.push_str(text);
            return;
        }
        self.0.push_str(&escape(text));
    }

    fn open(&mut self, name: &str) {
        self.0.push('<');
        self.0.push_str(name);
        self.0.push('>');
    }

    fn close(&mut self, name: &str) {
        self.0.push_str("</");
        self.0.push_str(name);
        self.0.push('>');
    }

    /// `<name>text</name>`.
    pub fn text(&mut self, name: &str, text: &str) -> &mut Xml {
        self.open(name);
        self.push_escaped(text);
        self.close(name);
        self
    }

    /// `<name>n</name>`, the number written in place.
    pub fn int(&mut self, name: &str, n: i64) -> &mut Xml {
        use std::fmt::Write as _;
        self.open(name);
        let _ = write!(self.0, "{n}");
        self.close(name);
        self
    }

    /// Bare text (escaped): the content of a list's `<item>` that holds a value,
    /// not elements (`<routeTableIdSet><item>rtb-…</item>`).
    pub fn value(&mut self, text: &str) -> &mut Xml {
        self.push_escaped(text);
        self
    }

    /// `<name>` … `</name>` around what `inner` writes.
    pub fn node(&mut self, name: &str, inner: impl FnOnce(&mut Xml)) -> &mut Xml {
        self.open(name);
        inner(self);
        self.close(name);
        self
    }

    /// `<name>` with one `<item>` per element of `items`.
    pub fn set<T>(&mut self, name: &str, items: &[T], item: impl Fn(&mut Xml, &T)) -> &mut Xml {
        self.node(name, |x| {
            for i in items {
                x.node("item", |x| item(x, i));
            }
        })
    }
}

/// The answer document of `action`: `<ActionResponse xmlns=…><requestId>…` + body.
pub fn response(action: &str, request_id: &str, body: &Xml) -> String {
    let mut out = String::with_capacity(body.0.len() + 2 * action.len() + 160);
    out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<");
    out.push_str(action);
    out.push_str("Response xmlns=\"");
    out.push_str(NAMESPACE);
    out.push_str("\"><requestId>");
    out.push_str(&escape(request_id));
    out.push_str("</requestId>");
    out.push_str(&body.0);
    out.push_str("</");
    out.push_str(action);
    out.push_str("Response>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_nest_and_escape() {
        let mut x = Xml::default();
        x.set("vpcSet", &["a&b", "c"], |x, v| {
            x.text("vpcId", v);
        });
        assert_eq!(
            response("DescribeVpcs", "r", &x),
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<DescribeVpcsResponse xmlns=\"{NAMESPACE}\"><requestId>r</requestId><vpcSet><item><vpcId>a&amp;b</vpcId></item><item><vpcId>c</vpcId></item></vpcSet></DescribeVpcsResponse>"
            )
        );
    }
}
