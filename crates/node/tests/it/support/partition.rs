//! Network partitions for in-process validators, with no firewall or network namespace: a TCP
//! relay on 127.0.0.1 for every ordered pair of validators (`from` dials `to` through relay
//! `(from, to)`, which forwards to `to`'s real p2p port), and every validator's persistent
//! peers pointed at its relays. Cutting a link closes the relayed connections both ways and
//! refuses new ones (a reset, as a firewall's reject) until it heals.
//!
//! The node's own listen port stays open, so what keeps a cut a cut is that nothing dials it
//! directly: the configs name only relays, and peer discovery is off in the node
//! (`node::engine_config`). One path remains: libp2p's identify caches a peer's self-reported
//! listen address, and a request to a peer that has just disconnected (a sync request racing
//! the disconnect) dials that address. `direct_connections` finds such a connection.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use surety_node::node::NodeConfig;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// The relays between `n` validators and a switch per (unordered) link.
pub(crate) struct Links {
    /// By `(a, b)` with `a < b`: the link between `a` and `b`.
    links: BTreeMap<(usize, usize), Link>,
    /// Validators' real p2p ports, in order.
    ports: Vec<u16>,
    relays: Vec<JoinHandle<()>>,
}

/// The TCP port of a `/ip4/127.0.0.1/tcp/<port>` multiaddr.
fn tcp_port(multiaddr: &str) -> u16 {
    multiaddr
        .rsplit_once("/tcp/")
        .and_then(|(_, port)| port.parse().ok())
        .unwrap_or_else(|| panic!("{multiaddr} is not a /tcp/<port> address"))
}

/// The two relays between two validators.
struct Link {
    /// True while the link is cut.
    down: watch::Sender<bool>,
    /// When either relay last opened a connection.
    opened: Arc<Mutex<Option<Instant>>>,
}

fn link(a: usize, b: usize) -> (usize, usize) {
    assert_ne!(a, b, "a validator has no link to itself");
    (a.min(b), a.max(b))
}

impl Links {
    /// Start a relay for every ordered pair of `configs`' validators and make each validator's
    /// persistent peers its relays to the others, in validator order.
    pub(crate) async fn wire(configs: &mut [NodeConfig]) -> Links {
        let ports: Vec<u16> = configs.iter().map(|c| tcp_port(&c.p2p.listen)).collect();
        let n = configs.len();
        let mut links = BTreeMap::new();
        for a in 0..n {
            for b in a + 1..n {
                let link = Link {
                    down: watch::channel(false).0,
                    opened: Arc::new(Mutex::new(None)),
                };
                links.insert((a, b), link);
            }
        }
        let mut relays = Vec::new();
        for (from, config) in configs.iter_mut().enumerate() {
            config.p2p.peers.clear();
            for (to, port) in ports.iter().enumerate().filter(|(to, _)| *to != from) {
                let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
                let relay_port = listener.local_addr().unwrap().port();
                config
                    .p2p
                    .peers
                    .push(format!("/ip4/127.0.0.1/tcp/{relay_port}"));
                let link = &links[&link(from, to)];
                let relay = Relay {
                    target: SocketAddr::from(([127, 0, 0, 1], *port)),
                    down: link.down.subscribe(),
                    opened: link.opened.clone(),
                };
                relays.push(tokio::spawn(relay.run(listener)));
            }
        }
        Links {
            links,
            ports,
            relays,
        }
    }

    fn set(&self, a: usize, b: usize, cut: bool) {
        self.links[&link(a, b)].down.send_replace(cut);
    }

    /// Cut every link between a validator of one side and one of another.
    pub(crate) fn split(&self, sides: &[&[usize]]) {
        for (i, side) in sides.iter().enumerate() {
            for other in &sides[i + 1..] {
                for a in side.iter() {
                    for b in other.iter() {
                        self.set(*a, *b, true);
                    }
                }
            }
        }
    }

    /// Cut every link of validator `a`.
    pub(crate) fn isolate(&self, a: usize) {
        for b in (0..self.ports.len()).filter(|b| *b != a) {
            self.set(a, b, true);
        }
    }

    /// Restore every link; the ones that were cut.
    pub(crate) fn heal(&self) -> Vec<(usize, usize)> {
        let mut healed = Vec::new();
        for (pair, link) in &self.links {
            if link.down.send_replace(false) {
                healed.push(*pair);
            }
        }
        healed
    }

    /// Whether every one of `links` has carried a new connection since `since` (the
    /// validators have redialled across it).
    pub(crate) fn reconnected_since(&self, links: &[(usize, usize)], since: Instant) -> bool {
        links.iter().all(|pair| {
            let opened = *self.links[pair].opened.lock().unwrap();
            opened.is_some_and(|at| at >= since)
        })
    }

    /// Established TCP connections to a validator's real p2p port that a relay did not open,
    /// as (validator, local port of the dialer): connections that bypass the switches. Linux
    /// only (`/proc/net/tcp`); elsewhere none are found. Two looks 100 ms apart, so that a
    /// relay's connection opening or closing between reading the table and the relays' ports
    /// is not taken for one.
    pub(crate) async fn direct_connections(&self) -> Vec<(usize, u16)> {
        let first = self.direct_connections_now();
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let second = self.direct_connections_now();
        first.into_iter().filter(|c| second.contains(c)).collect()
    }

    fn direct_connections_now(&self) -> Vec<(usize, u16)> {
        let Ok(table) = std::fs::read_to_string("/proc/net/tcp") else {
            return Vec::new();
        };
        // After the table: a connection established before the read is recorded by now.
        let relay_sources = RELAY_SOURCES.lock().unwrap().clone();
        established(&table)
            .into_iter()
            .filter(|(local, _)| !relay_sources.contains(local))
            .filter_map(|(local, remote)| {
                let validator = self.ports.iter().position(|p| *p == remote)?;
                Some((validator, local))
            })
            .collect()
    }
}

impl Drop for Links {
    fn drop(&mut self) {
        for relay in &self.relays {
            relay.abort();
        }
    }
}

/// The (local port, remote port) of every established connection in a `/proc/net/tcp` table.
fn established(table: &str) -> Vec<(u16, u16)> {
    const ESTABLISHED: &str = "01";
    let port = |address: &str| {
        address
            .rsplit_once(':')
            .and_then(|(_, hex)| u16::from_str_radix(hex, 16).ok())
    };
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields.get(3) != Some(&ESTABLISHED) {
                return None;
            }
            Some((port(fields.get(1)?)?, port(fields.get(2)?)?))
        })
        .collect()
}

/// Local ports of the relays' open connections to validators (of every test's relays: a port
/// is unique on the machine while its connection is open). A port leaves the set only after
/// its socket is closed, so an established connection is never missing from it.
static RELAY_SOURCES: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());

/// One direction of a link: forwards connections to `target` while `down` is false; when it
/// turns true, closes every open one and refuses new ones until it turns false again.
struct Relay {
    target: SocketAddr,
    down: watch::Receiver<bool>,
    opened: Arc<Mutex<Option<Instant>>>,
}

impl Relay {
    async fn run(self, listener: TcpListener) {
        loop {
            let Ok((inbound, _)) = listener.accept().await else {
                // Out of file descriptors, say: try again shortly rather than spin.
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                continue;
            };
            if *self.down.borrow() {
                drop(inbound);
                continue;
            }
            tokio::spawn(forward(
                inbound,
                self.target,
                self.down.clone(),
                self.opened.clone(),
            ));
        }
    }
}

async fn forward(
    mut inbound: TcpStream,
    target: SocketAddr,
    mut down: watch::Receiver<bool>,
    opened: Arc<Mutex<Option<Instant>>>,
) {
    let Ok(mut outbound) = TcpStream::connect(target).await else {
        return;
    };
    *opened.lock().unwrap() = Some(Instant::now());
    let source = outbound.local_addr().map(|a| a.port()).unwrap_or(0);
    RELAY_SOURCES.lock().unwrap().insert(source);
    let _ = inbound.set_nodelay(true);
    let _ = outbound.set_nodelay(true);
    tokio::select! {
        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
        _ = down.wait_for(|cut| *cut) => {}
    }
    drop(outbound);
    drop(inbound);
    RELAY_SOURCES.lock().unwrap().remove(&source);
}

#[cfg(test)]
mod tests {
    use super::established;

    #[test]
    fn the_tcp_table_yields_established_connections_ports() {
        let table = "  sl  local_address rem_address   st tx_queue\n\
             0: 0100007F:6DB0 0100007F:C350 01 00000000:00000000\n\
             1: 0100007F:6DB1 00000000:0000 0A 00000000:00000000\n";
        assert_eq!(established(table), vec![(0x6db0, 0xc350)]);
    }
}
