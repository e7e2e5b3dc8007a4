// Package cloudsecurity holds the cloud-security module's queries: the
// team's findings (ListFindings), read from cspm_cloud_security
// (findings), the read model of projections/cloudsecurity. They use the
// shared kit of package queries.
package cloudsecurity
