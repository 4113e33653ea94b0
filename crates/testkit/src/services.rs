//! The one list of services (`services.txt` at the workspace root): names, ports and
//! databases, in the order `just up` starts them (consumers before producers).

/// One line of `services.txt`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceEntry {
    pub name: &'static str,
    pub grpc_port: u16,
    pub http_port: u16,
    pub database: &'static str,
}

const LIST: &str = include_str!("../../../services.txt");

/// Every service, in start order.
pub fn services() -> Vec<ServiceEntry> {
    LIST.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .filter_map(|line| {
            let mut columns = line.split_whitespace();
            Some(ServiceEntry {
                name: columns.next()?,
                grpc_port: columns.next()?.parse().ok()?,
                http_port: columns.next()?.parse().ok()?,
                database: columns.next()?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_line_is_read_and_ports_are_unique() {
        let listed = LIST
            .lines()
            .filter(|line| !line.trim().is_empty() && !line.trim_start().starts_with('#'))
            .count();
        let services = services();
        assert_eq!(
            services.len(),
            listed,
            "a line of services.txt does not parse"
        );
        let mut ports: Vec<u16> = services
            .iter()
            .flat_map(|service| [service.grpc_port, service.http_port])
            .collect();
        ports.sort_unstable();
        ports.dedup();
        assert_eq!(ports.len(), services.len() * 2);
    }
}
