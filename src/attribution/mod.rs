//! Role attribution: packets are grouped per interface and service
//! ([`groups`]), then each group is given a role by [`rules`].

pub mod groups;
pub mod rules;
