//! What a streamed response tells the server's layers about itself.

/// A response extension: this body is a long download that keeps making progress (an audit
/// export), so the server's response deadline applies to each wait for the next chunk rather
/// than to the whole body. A download that stalls is still cut off.
#[derive(Clone, Copy, Debug)]
pub struct RollingDeadline;
