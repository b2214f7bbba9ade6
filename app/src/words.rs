//! Numbers in words, the same way on every page: "1 member", "3 members".

/// `n` and the noun in the number it needs.
pub fn counted(n: i64, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

#[cfg(test)]
mod tests {
    use super::counted;

    #[test]
    fn one_is_singular_and_every_other_count_plural() {
        assert_eq!(counted(1, "member", "members"), "1 member");
        assert_eq!(counted(0, "member", "members"), "0 members");
        assert_eq!(counted(2, "delivery", "deliveries"), "2 deliveries");
    }
}
