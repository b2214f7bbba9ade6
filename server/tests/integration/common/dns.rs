//! A real DNS server for the tests: hickory-server in the test process, authoritative for
//! every name (one in-memory zone at the root), answering over UDP and TCP on one port of
//! 127.0.0.1. Gatehouse reaches it through its resolver with `--dns-server`; a test publishes
//! and changes TXT records the way an Owner would at their DNS host.

use hickory_proto::rr::rdata::{SOA, TXT};
use hickory_proto::rr::{LowerName, Name, RData, Record, RecordType, RrKey};
use hickory_server::store::in_memory::InMemoryZoneHandler;
use hickory_server::zone_handler::{AxfrPolicy, Catalog, ZoneType};
use hickory_server::Server;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

pub struct DnsServer {
    pub addr: SocketAddr,
    zone: Arc<InMemoryZoneHandler>,
    serial: AtomicU32,
    _server: Server<Catalog>,
}

fn name(text: &str) -> Name {
    let mut name = Name::from_ascii(text).unwrap_or_else(|e| panic!("DNS name {text:?}: {e}"));
    name.set_fqdn(true);
    name
}

impl DnsServer {
    pub async fn start() -> Self {
        let root = Name::root();
        let mut zone =
            InMemoryZoneHandler::empty(root.clone(), ZoneType::Primary, AxfrPolicy::Deny);
        let soa = SOA::new(
            name("ns.test."),
            name("hostmaster.test."),
            1,
            3600,
            600,
            86400,
            // Negative answers are not to be kept: a record published a moment later is seen.
            0,
        );
        assert!(
            zone.upsert_mut(Record::from_rdata(root.clone(), 0, RData::SOA(soa)), 1),
            "the test zone's SOA"
        );
        let zone = Arc::new(zone);
        let mut catalog = Catalog::new();
        catalog.upsert(LowerName::new(&root), vec![zone.clone()]);
        // UDP and TCP on the same port, as a resolver expects of one server. The port the
        // system gives the UDP socket may be taken for TCP by another test's connection: try
        // another.
        let mut attempt = 0;
        let (udp, tcp, addr) = loop {
            attempt += 1;
            let udp = tokio::net::UdpSocket::bind("127.0.0.1:0")
                .await
                .expect("the test DNS server's UDP socket");
            let addr = udp.local_addr().expect("its address");
            match tokio::net::TcpListener::bind(addr).await {
                Ok(tcp) => break (udp, tcp, addr),
                Err(_) if attempt < 50 => continue,
                Err(e) => panic!("no port free for both UDP and TCP after 50 tries: {e}"),
            }
        };
        let mut server = Server::new(catalog);
        server.register_socket(udp);
        server.register_listener(tcp, Duration::from_secs(5), 16);
        Self {
            addr,
            zone,
            serial: AtomicU32::new(2),
            _server: server,
        }
    }

    /// Publishes `values` as the TXT records at `at` (replacing what was there; none: no
    /// record at all).
    pub async fn set_txt(&self, at: &str, values: &[&str]) {
        let owner = name(at);
        let serial = self.serial.fetch_add(1, Ordering::SeqCst);
        self.zone
            .records_mut()
            .await
            .remove(&RrKey::new(LowerName::new(&owner), RecordType::TXT));
        for value in values {
            let record = Record::from_rdata(
                owner.clone(),
                0,
                RData::TXT(TXT::new(vec![value.to_string()])),
            );
            assert!(self.zone.upsert(record, serial).await, "TXT at {at}");
        }
    }
}
