//! Endpoints and conversations: the unordered pair of (address, port)
//! endpoints plus the transport protocol, as tshark's `conv,tcp` counts them.

use std::fmt;
use std::net::IpAddr;

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct Endpoint {
    pub ip: IpAddr,
    pub port: u16,
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.ip {
            IpAddr::V4(a) => write!(f, "{a}:{}", self.port),
            IpAddr::V6(a) => write!(f, "[{a}]:{}", self.port),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum L4Proto {
    Tcp,
    Udp,
}

impl L4Proto {
    pub fn name(self) -> &'static str {
        match self {
            L4Proto::Tcp => "tcp",
            L4Proto::Udp => "udp",
        }
    }
}

/// Which way a packet travels within its conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// From `a` to `b` of the [`ConvKey`].
    AtoB = 0,
    BtoA = 1,
}

impl Direction {
    #[inline]
    pub fn index(self) -> usize {
        self as usize
    }
    #[inline]
    pub fn reverse(self) -> Direction {
        match self {
            Direction::AtoB => Direction::BtoA,
            Direction::BtoA => Direction::AtoB,
        }
    }
}

/// A conversation, with its endpoints in canonical order (`a <= b`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConvKey {
    pub proto: L4Proto,
    pub a: Endpoint,
    pub b: Endpoint,
}

impl ConvKey {
    /// The conversation of a packet from `src` to `dst`, and the packet's direction in it.
    #[inline]
    pub fn new(proto: L4Proto, src: Endpoint, dst: Endpoint) -> (ConvKey, Direction) {
        if src <= dst {
            (
                ConvKey {
                    proto,
                    a: src,
                    b: dst,
                },
                Direction::AtoB,
            )
        } else {
            (
                ConvKey {
                    proto,
                    a: dst,
                    b: src,
                },
                Direction::BtoA,
            )
        }
    }

    /// The endpoint that sends in direction `dir`.
    pub fn source(&self, dir: Direction) -> Endpoint {
        match dir {
            Direction::AtoB => self.a,
            Direction::BtoA => self.b,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_order() {
        let x = Endpoint {
            ip: [10, 0, 0, 2].into(),
            port: 445,
        };
        let y = Endpoint {
            ip: [10, 0, 0, 1].into(),
            port: 50000,
        };
        let (k1, d1) = ConvKey::new(L4Proto::Tcp, x, y);
        let (k2, d2) = ConvKey::new(L4Proto::Tcp, y, x);
        assert_eq!(k1, k2);
        assert_ne!(d1, d2);
        assert_eq!(k1.source(d1), x);
        assert_eq!(
            format!(
                "{}",
                Endpoint {
                    ip: "fe80::1".parse().unwrap(),
                    port: 3343
                }
            ),
            "[fe80::1]:3343"
        );
    }
}
