// Package trivygen writes large synthetic Trivy reports (SchemaVersion 2,
// container_image), for the streaming bound of the Trivy parser and the
// import benchmarks. The reports have the shape of Trivy 0.6x output
// (Metadata with ImageID, RepoTags and RepoDigests; an os-pkgs result and
// a lang-pkgs result; vulnerabilities of 2-4 KB with CVSS, vendor
// severities and references) and are deterministic: the same Options give
// the same bytes. Ids, packages and texts are made up. It imports only the
// standard library.
package trivygen

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
)

// Options shape a generated report.
type Options struct {
	// Seed makes the report (and its ImageID): the same Seed and Options
	// give the same bytes; another Seed is another image.
	Seed uint64
	// Occurrences is the number of vulnerability rows (10,000 by default).
	Occurrences int
	// Packages is how many packages they spread over (Occurrences/8, at
	// least 1, by default); Vulnerabilities how many distinct ids
	// (Occurrences/2 by default; exact when Occurrences is at least that
	// and it is not a multiple of 7919).
	Packages        int
	Vulnerabilities int
	// Tag is the image's tag ("registry.example.com/app:latest").
	Tag string
}

// Stats says what was written.
type Stats struct {
	Bytes       int64
	Occurrences int
	ImageID     string
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// ImageID is the ImageID a report generated with seed names.
func ImageID(seed uint64) string {
	h := sha256.Sum256([]byte(fmt.Sprintf("trivygen-image-%d", seed)))
	return "sha256:" + hex.EncodeToString(h[:])
}

var severities = []string{"LOW", "MEDIUM", "MEDIUM", "HIGH", "CRITICAL", "UNKNOWN"}

// Write writes one report to w.
func Write(w io.Writer, o Options) (Stats, error) {
	if o.Occurrences <= 0 {
		o.Occurrences = 10_000
	}
	if o.Packages <= 0 {
		o.Packages = max(1, o.Occurrences/8)
	}
	if o.Vulnerabilities <= 0 {
		o.Vulnerabilities = max(1, o.Occurrences/2)
	}
	if o.Tag == "" {
		o.Tag = "registry.example.com/app:latest"
	}
	cw := &countingWriter{w: w}
	bw := bufio.NewWriterSize(cw, 64<<10)
	rng := rand.New(rand.NewPCG(o.Seed, 11))
	imageID := ImageID(o.Seed)
	repo, _, _ := strings.Cut(o.Tag, ":")
	head := map[string]any{
		"SchemaVersion": 2, "CreatedAt": "2026-01-15T08:00:00.123456789Z", "ArtifactName": o.Tag, "ArtifactType": "container_image",
		"Metadata": map[string]any{
			"OS": map[string]any{"Family": "debian", "Name": "12.4"}, "ImageID": imageID,
			"RepoTags": []string{o.Tag}, "RepoDigests": []string{repo + "@" + ImageID(o.Seed+1_000_000)},
		},
	}
	hb, err := json.Marshal(head)
	if err != nil {
		return Stats{}, err
	}
	bw.Write(hb[:len(hb)-1])
	bw.WriteString(`,"Results":[`)
	half := o.Occurrences / 2
	for r, res := range []struct{ target, class, typ string }{
		{o.Tag + " (debian 12.4)", "os-pkgs", "debian"}, {"Java", "lang-pkgs", "jar"},
	} {
		if r > 0 {
			bw.WriteString(",")
		}
		fmt.Fprintf(bw, `{"Target":%q,"Class":%q,"Type":%q,"Vulnerabilities":[`, res.target, res.class, res.typ)
		n := half
		if r == 1 {
			n = o.Occurrences - half
		}
		for i := 0; i < n; i++ {
			if i > 0 {
				bw.WriteString(",")
			}
			k := r*half + i
			pkg := k % o.Packages
			j := (k * 7919) % o.Vulnerabilities
			id := fmt.Sprintf("CVE-20%02d-%05d", 10+j%15, j)
			sev := severities[rng.IntN(len(severities))]
			v := map[string]any{
				"VulnerabilityID": id, "PkgID": fmt.Sprintf("pkg%d@1.%d.%d", pkg, pkg%7, k%3),
				"PkgName": fmt.Sprintf("pkg%d", pkg), "InstalledVersion": fmt.Sprintf("1.%d.%d", pkg%7, k%3),
				"FixedVersion": fmt.Sprintf("1.%d.%d, 2.0.%d", pkg%7, 9, k%5), "Status": "fixed",
				"SeveritySource": "nvd", "PrimaryURL": "https://avd.aquasec.com/nvd/" + strings.ToLower(id),
				"Title":       fmt.Sprintf("pkg%d: a made-up flaw number %d", pkg, k),
				"Description": strings.Repeat(fmt.Sprintf("A made-up description of %s in pkg%d. ", id, pkg), 8+rng.IntN(16)),
				"Severity":    sev, "CweIDs": []string{fmt.Sprintf("CWE-%d", 20+k%400)},
				"VendorSeverity": map[string]int{"nvd": 1 + k%4, "debian": k % 4},
				"CVSS":           map[string]any{"nvd": map[string]any{"V3Vector": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "V3Score": 9.8}},
				"References":     []string{"https://nvd.nist.gov/vuln/detail/" + id, "https://security-tracker.debian.org/tracker/" + id},
				"PublishedDate":  "2024-03-01T10:15:00Z", "LastModifiedDate": "2025-06-01T12:00:00Z",
			}
			if res.class == "lang-pkgs" {
				v["PkgPath"] = fmt.Sprintf("app/libs/pkg%d.jar", pkg)
			}
			b, err := json.Marshal(v)
			if err != nil {
				return Stats{}, err
			}
			if _, err := bw.Write(b); err != nil {
				return Stats{}, err
			}
		}
		bw.WriteString("]}")
	}
	bw.WriteString("]}\n")
	if err := bw.Flush(); err != nil {
		return Stats{}, err
	}
	return Stats{Bytes: cw.n, Occurrences: o.Occurrences, ImageID: imageID}, nil
}
