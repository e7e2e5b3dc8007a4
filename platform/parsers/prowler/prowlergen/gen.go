// Package prowlergen writes large synthetic Prowler reports, for the
// streaming bound of the Prowler parser and the import benchmarks. The
// reports have the shape of Prowler 5.x json-ocsf output (OCSF 1.5
// Detection Findings, one unmapped.scan_id per account, the epoch time
// and the naive time_dt) with realistic sizes (3-6 KB per finding, most of
// it compliance mappings, texts and the resource's metadata dump), and are
// deterministic: the same Options give the same bytes.
//
// The findings are made up: real Prowler AWS check ids, services and
// severities, invented accounts and resources. It imports only the
// standard library.
package prowlergen

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"time"
)

// Options shape a generated report. Zero values take the defaults shown.
type Options struct {
	// Seed makes the report; the same Seed and Options give the same bytes.
	Seed uint64
	// Accounts (3), Regions (6, at most 17) and Checks (40, at most 40)
	// bound the scopes the findings spread over; ResourcesPerCheck (50)
	// the resources of each check in each account and region.
	Accounts          int
	Regions           int
	Checks            int
	ResourcesPerCheck int
	// FailRatio (0.3), ManualRatio (0.01) and MutedRatio (0.02) are the
	// shares of FAIL and MANUAL results and of muted findings; the rest
	// pass. Set FailRatio to a negative value for no failures.
	FailRatio   float64
	ManualRatio float64
	MutedRatio  float64
	// Start is the scan time (2026-03-01T08:00:00Z).
	Start time.Time
	// ProwlerVersion is metadata.product.version ("5.34.0").
	ProwlerVersion string
}

// AverageFindingBytes is the average size of a generated finding with the
// default options (measured: 5.71 KB), to size a report in bytes.
const AverageFindingBytes = 5_710

// Stats count what a generated report holds.
type Stats struct {
	Findings, Fail, Pass, Manual, Muted int
	Bytes                               int64
}

func (o Options) withDefaults() Options {
	def := func(v *int, d, max int) {
		if *v <= 0 {
			*v = d
		}
		if max > 0 && *v > max {
			*v = max
		}
	}
	def(&o.Accounts, 3, 0)
	def(&o.Regions, 6, len(regions))
	def(&o.Checks, 40, len(checks))
	def(&o.ResourcesPerCheck, 50, 0)
	if o.FailRatio == 0 {
		o.FailRatio = 0.3
	}
	if o.FailRatio < 0 {
		o.FailRatio = 0
	}
	if o.ManualRatio == 0 {
		o.ManualRatio = 0.01
	}
	if o.MutedRatio == 0 {
		o.MutedRatio = 0.02
	}
	if o.Start.IsZero() {
		o.Start = time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	}
	if o.ProwlerVersion == "" {
		o.ProwlerVersion = "5.34.0"
	}
	return o
}

// GenerateOCSF writes a JSON array of n findings to w, formatted as
// Prowler writes it (each finding indented by 4 spaces, "," between
// them). It buffers one finding at a time.
func GenerateOCSF(w io.Writer, n int, opt Options) (Stats, error) {
	opt = opt.withDefaults()
	cw := &countingWriter{w: w}
	bw := bufio.NewWriterSize(cw, 256<<10)
	rng := rand.New(rand.NewPCG(opt.Seed, opt.Seed^0x9e3779b97f4a7c15))
	accounts := make([]string, opt.Accounts)
	scanIDs := make([]string, opt.Accounts)
	for i := range accounts {
		accounts[i] = fmt.Sprintf("%012d", 100000000000+rng.Int64N(899999999999))
		scanIDs[i] = uuid7(opt.Start, rng)
	}
	var st Stats
	var out []byte
	if _, err := bw.WriteString("["); err != nil {
		return st, err
	}
	for i := 0; i < n; i++ {
		acct := i % opt.Accounts
		scope := i / opt.Accounts
		region := regions[scope%opt.Regions]
		chk := checks[(scope/opt.Regions)%opt.Checks]
		res := (scope / (opt.Regions * opt.Checks)) % opt.ResourcesPerCheck
		f := makeFinding(rng, opt, accounts[acct], scanIDs[acct], region, chk, res)
		switch f.StatusCode {
		case "FAIL":
			st.Fail++
		case "PASS":
			st.Pass++
		default:
			st.Manual++
		}
		if f.Status == "Suppressed" {
			st.Muted++
		}
		compact, err := json.Marshal(f)
		if err != nil {
			return st, err
		}
		b := indent(out[:0], compact)
		out = b
		if i > 0 {
			if err := bw.WriteByte(','); err != nil {
				return st, err
			}
		}
		if _, err := bw.Write(b); err != nil {
			return st, err
		}
		st.Findings++
	}
	if _, err := bw.WriteString("]"); err != nil {
		return st, err
	}
	err := bw.Flush()
	st.Bytes = cw.n
	return st, err
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

func uuid7(t time.Time, rng *rand.Rand) string {
	ms := uint64(t.UnixMilli())
	a, b := rng.Uint64(), rng.Uint64()
	return fmt.Sprintf("%08x-%04x-7%03x-%04x-%012x", ms>>16, ms&0xffff, a&0xfff, 0x8000|(b>>48)&0x3fff, b&0xffffffffffff)
}

var regions = []string{
	"us-east-1", "eu-west-1", "eu-central-1", "us-west-2", "ap-southeast-1", "eu-north-1",
	"us-east-2", "us-west-1", "eu-west-2", "eu-west-3", "ap-northeast-1", "ap-northeast-2",
	"ap-south-1", "ap-southeast-2", "ca-central-1", "sa-east-1", "eu-south-1",
}

type check struct {
	id, severity, resourceType, title string
}

var checks = []check{
	{"cloudtrail_multi_region_enabled", "High", "AwsCloudTrailTrail", "Region has at least one CloudTrail trail logging"},
	{"cloudtrail_kms_encryption_enabled", "Medium", "AwsCloudTrailTrail", "CloudTrail trail logs are encrypted at rest with a KMS key"},
	{"cloudtrail_log_file_validation_enabled", "Medium", "AwsCloudTrailTrail", "CloudTrail trail has log file integrity validation enabled"},
	{"s3_bucket_default_encryption", "Medium", "AwsS3Bucket", "S3 bucket has default server-side encryption enabled"},
	{"s3_bucket_public_access", "Critical", "AwsS3Bucket", "S3 bucket is not publicly accessible"},
	{"s3_bucket_server_access_logging_enabled", "Medium", "AwsS3Bucket", "S3 bucket has server access logging enabled"},
	{"s3_bucket_secure_transport_policy", "Medium", "AwsS3Bucket", "S3 bucket policy denies requests over insecure transport"},
	{"s3_bucket_versioning_enabled", "Medium", "AwsS3Bucket", "S3 bucket has versioning enabled"},
	{"iam_root_mfa_enabled", "Critical", "AwsIamUser", "Root account has multi-factor authentication enabled"},
	{"iam_no_root_access_key", "Critical", "AwsIamUser", "Root account has no active access keys"},
	{"iam_user_mfa_enabled_console_access", "High", "AwsIamUser", "IAM user with console access has MFA enabled"},
	{"iam_password_policy_minimum_length_14", "Medium", "AwsIamPasswordPolicy", "IAM password policy requires a minimum length of 14"},
	{"iam_rotate_access_key_90_days", "Medium", "AwsIamAccessKey", "IAM access keys are rotated every 90 days or less"},
	{"iam_policy_attached_only_to_group_or_roles", "Low", "AwsIamUser", "IAM policies are attached only to groups or roles"},
	{"ec2_ebs_volume_encryption", "Medium", "AwsEc2Volume", "EBS volume is encrypted"},
	{"ec2_instance_public_ip", "Medium", "AwsEc2Instance", "EC2 instance has no public IP address"},
	{"ec2_securitygroup_allow_ingress_from_internet_to_tcp_port_22", "High", "AwsEc2SecurityGroup", "Security group does not allow ingress from the internet to TCP port 22"},
	{"ec2_securitygroup_default_restrict_traffic", "High", "AwsEc2SecurityGroup", "Default security group restricts all traffic"},
	{"ec2_instance_imdsv2_enabled", "Medium", "AwsEc2Instance", "EC2 instance requires IMDSv2"},
	{"ec2_ebs_default_encryption", "Medium", "Other", "EBS default encryption is enabled"},
	{"vpc_flow_logs_enabled", "Medium", "AwsEc2Vpc", "VPC has flow logs enabled"},
	{"rds_instance_storage_encrypted", "Medium", "AwsRdsDbInstance", "RDS instance storage is encrypted at rest"},
	{"rds_instance_no_public_access", "Critical", "AwsRdsDbInstance", "RDS instance is not publicly accessible"},
	{"rds_instance_backup_enabled", "Medium", "AwsRdsDbInstance", "RDS instance has automated backups enabled"},
	{"kms_cmk_rotation_enabled", "Medium", "AwsKmsKey", "KMS customer managed key has rotation enabled"},
	{"cloudwatch_log_group_retention_policy_specific_days_enabled", "Medium", "AwsLogsLogGroup", "CloudWatch log group retains logs for the required days"},
	{"guardduty_is_enabled", "Medium", "AwsGuardDutyDetector", "GuardDuty is enabled"},
	{"config_recorder_all_regions_enabled", "Medium", "AwsConfigConfigurationRecorder", "AWS Config recorder is enabled in every region"},
	{"awslambda_function_not_publicly_accessible", "Critical", "AwsLambdaFunction", "Lambda function is not publicly accessible"},
	{"awslambda_function_using_supported_runtimes", "Medium", "AwsLambdaFunction", "Lambda function uses a supported runtime"},
	{"securityhub_enabled", "Medium", "AwsSecurityHubHub", "Security Hub is enabled"},
	{"accessanalyzer_enabled", "Low", "Other", "IAM Access Analyzer is enabled"},
	{"account_maintain_current_contact_details", "Medium", "Other", "Account contact details are current"},
	{"eks_cluster_not_publicly_accessible", "High", "AwsEksCluster", "EKS cluster endpoint is not publicly accessible"},
	{"dynamodb_tables_kms_cmk_encryption_enabled", "Low", "AwsDynamoDbTable", "DynamoDB table is encrypted with a customer managed key"},
	{"elbv2_ssl_listeners", "Medium", "AwsElbv2LoadBalancer", "Application load balancer listeners use HTTPS"},
	{"sns_topics_kms_encryption_at_rest_enabled", "High", "AwsSnsTopic", "SNS topic is encrypted at rest"},
	{"sqs_queues_server_side_encryption_enabled", "Medium", "AwsSqsQueue", "SQS queue has server-side encryption enabled"},
	{"secretsmanager_automatic_rotation_enabled", "Medium", "AwsSecretsManagerSecret", "Secrets Manager secret has automatic rotation enabled"},
	{"ecr_repositories_scan_images_on_push_enabled", "Medium", "AwsEcrRepository", "ECR repository scans images on push"},
}

var severityID = map[string]int{"Informational": 1, "Low": 2, "Medium": 3, "High": 4, "Critical": 5}

var frameworks = []struct {
	name string
	ids  []string
}{
	{"CIS-5.0", []string{"1.4", "2.1.1", "3.1", "3.5", "4.1", "5.2"}},
	{"AWS-Foundational-Security-Best-Practices", []string{"CloudTrail.1", "S3.4", "IAM.6", "EC2.7", "RDS.3", "KMS.4"}},
	{"NIST-800-53-Revision-5", []string{"ac_2_4", "au_2_b", "au_3_a", "sc_13", "sc_28", "si_4_2", "cm_6_a", "ia_5_1_c"}},
	{"ENS-RD2022", []string{"op.acc.6.r5.aws.iam.1", "op.exp.8.aws.ct.1", "mp.si.2.aws.s3.1", "mp.com.1.aws.sg.2"}},
	{"PCI-4.0", []string{"10.2.1.1", "10.3.1", "3.5.1", "8.4.1", "1.3.1"}},
	{"ISO27001-2022", []string{"A.8.15", "A.8.24", "A.5.15", "A.8.20"}},
	{"SOC2", []string{"cc_6_1", "cc_7_2", "cc_6_6"}},
	{"KISA-ISMS-P-2023", []string{"2.9.4", "2.10.1", "2.7.1", "2.6.1"}},
	{"HIPAA", []string{"164_308_a_1_ii_d", "164_312_b", "164_312_a_2_iv"}},
	{"GDPR", []string{"article_25", "article_30", "article_32"}},
}

var words = strings.Fields(`the resource configuration allows access from unexpected principals and
 does not record activity in a way that supports investigation so attackers could act without
 leaving evidence while data stays readable by anyone holding the key which weakens defense in
 depth across every region and account of the organisation`)

// sentences is a pool of word sequences; sentence cuts one to length.
var sentences = func() [][]string {
	rng := rand.New(rand.NewPCG(1, 2))
	pool := make([][]string, 256)
	for i := range pool {
		ws := make([]string, 45)
		for j := range ws {
			ws[j] = words[rng.IntN(len(words))]
		}
		pool[i] = ws
	}
	return pool
}()

func sentence(rng *rand.Rand, min, max int) string {
	n := min + rng.IntN(max-min+1)
	ws := sentences[rng.IntN(len(sentences))][:n]
	var b strings.Builder
	b.Grow(n * 9)
	for i, w := range ws {
		if i == 0 {
			b.WriteString(strings.ToUpper(w[:1]))
			b.WriteString(w[1:])
			continue
		}
		b.WriteByte(' ')
		b.WriteString(w)
	}
	b.WriteByte('.')
	return b.String()
}

// indent appends src, compact JSON as json.Marshal writes it, indented by
// four spaces per level the way Prowler's writer does (a faster
// json.Indent for trusted input).
func indent(dst, src []byte) []byte {
	depth := 0
	inString := false
	newline := func() {
		dst = append(dst, '\n')
		for i := 0; i < depth; i++ {
			dst = append(dst, "    "...)
		}
	}
	for i := 0; i < len(src); i++ {
		c := src[i]
		if inString {
			dst = append(dst, c)
			switch c {
			case '\\':
				i++
				dst = append(dst, src[i])
			case '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
			dst = append(dst, c)
		case '{', '[':
			if i+1 < len(src) && (src[i+1] == '}' || src[i+1] == ']') {
				dst = append(dst, c, src[i+1])
				i++
				continue
			}
			dst = append(dst, c)
			depth++
			newline()
		case '}', ']':
			depth--
			newline()
			dst = append(dst, c)
		case ',':
			dst = append(dst, c)
			newline()
		case ':':
			dst = append(dst, ':', ' ')
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

func resourceFor(c check, acct, region string, n int) (uid, name string) {
	service := c.id[:strings.IndexByte(c.id, '_')]
	name = fmt.Sprintf("%s-%s-%03d", service, region, n)
	switch c.resourceType {
	case "AwsS3Bucket":
		return "arn:aws:s3:::" + name, name
	case "AwsIamUser", "AwsIamAccessKey":
		return fmt.Sprintf("arn:aws:iam::%s:user/%s", acct, name), name
	case "AwsIamPasswordPolicy", "Other":
		return fmt.Sprintf("arn:aws:%s:%s:%s:account", service, region, acct), acct
	case "AwsEc2Instance":
		id := fmt.Sprintf("i-%017x", uint64(n)*0x9e3779b97f4a7c15>>4)
		return fmt.Sprintf("arn:aws:ec2:%s:%s:instance/%s", region, acct, id), id
	}
	return fmt.Sprintf("arn:aws:%s:%s:%s:%s/%s", service, region, acct, strings.ToLower(strings.TrimPrefix(c.resourceType, "Aws")), name), name
}

type product struct {
	Name       string `json:"name"`
	UID        string `json:"uid"`
	VendorName string `json:"vendor_name"`
	Version    string `json:"version"`
}

type unmapped struct {
	RelatedURL     string              `json:"related_url"`
	Categories     []string            `json:"categories"`
	DependsOn      []string            `json:"depends_on"`
	RelatedTo      []string            `json:"related_to"`
	AdditionalURLs []string            `json:"additional_urls"`
	Notes          string              `json:"notes"`
	Compliance     map[string][]string `json:"compliance"`
	ScanID         string              `json:"scan_id"`
	ProviderUID    string              `json:"provider_uid"`
	Provider       string              `json:"provider"`
}

type findingInfo struct {
	CreatedTime   int64    `json:"created_time"`
	CreatedTimeDT string   `json:"created_time_dt"`
	Desc          string   `json:"desc"`
	Title         string   `json:"title"`
	Types         []string `json:"types"`
	UID           string   `json:"uid"`
}

// attribute is one entry of the resource's metadata dump.
type attribute struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

type resource struct {
	CloudPartition string `json:"cloud_partition"`
	Region         string `json:"region"`
	Data           struct {
		Details  string `json:"details"`
		Metadata struct {
			Name       string      `json:"name"`
			Arn        string      `json:"arn"`
			Region     string      `json:"region"`
			Attributes []attribute `json:"attributes"`
		} `json:"metadata"`
	} `json:"data"`
	Group struct {
		Name string `json:"name"`
	} `json:"group"`
	Labels []string `json:"labels"`
	Name   string   `json:"name"`
	Type   string   `json:"type"`
	UID    string   `json:"uid"`
}

type cloud struct {
	Account struct {
		Name   string   `json:"name"`
		Type   string   `json:"type"`
		TypeID int      `json:"type_id"`
		UID    string   `json:"uid"`
		Labels []string `json:"labels"`
	} `json:"account"`
	Org struct {
		Name   string `json:"name"`
		OUUID  string `json:"ou_uid"`
		OUName string `json:"ou_name"`
		UID    string `json:"uid"`
	} `json:"org"`
	Provider string `json:"provider"`
	Region   string `json:"region"`
}

type finding struct {
	Message  string `json:"message"`
	Metadata struct {
		EventCode string   `json:"event_code"`
		Product   product  `json:"product"`
		Profiles  []string `json:"profiles"`
		TenantUID string   `json:"tenant_uid"`
		Version   string   `json:"version"`
	} `json:"metadata"`
	SeverityID   int         `json:"severity_id"`
	Severity     string      `json:"severity"`
	Status       string      `json:"status"`
	StatusCode   string      `json:"status_code"`
	StatusDetail string      `json:"status_detail"`
	StatusID     int         `json:"status_id"`
	Unmapped     unmapped    `json:"unmapped"`
	ActivityName string      `json:"activity_name"`
	ActivityID   int         `json:"activity_id"`
	FindingInfo  findingInfo `json:"finding_info"`
	Resources    []resource  `json:"resources"`
	CategoryName string      `json:"category_name"`
	CategoryUID  int         `json:"category_uid"`
	ClassName    string      `json:"class_name"`
	ClassUID     int         `json:"class_uid"`
	Cloud        cloud       `json:"cloud"`
	Remediation  struct {
		Desc       string   `json:"desc"`
		References []string `json:"references"`
	} `json:"remediation"`
	RiskDetails string `json:"risk_details"`
	Time        int64  `json:"time"`
	TimeDT      string `json:"time_dt"`
	TypeUID     int    `json:"type_uid"`
	TypeName    string `json:"type_name"`
}

func makeFinding(rng *rand.Rand, opt Options, acct, scanID, region string, c check, n int) *finding {
	uid, name := resourceFor(c, acct, region, n)
	f := &finding{}
	roll := rng.Float64()
	switch {
	case roll < opt.ManualRatio:
		f.StatusCode = "MANUAL"
	case roll < opt.ManualRatio+opt.FailRatio:
		f.StatusCode = "FAIL"
	default:
		f.StatusCode = "PASS"
	}
	f.Status, f.StatusID = "New", 1
	if rng.Float64() < opt.MutedRatio {
		f.Status, f.StatusID = "Suppressed", 3
	}
	detail := fmt.Sprintf("%s %s: %s", c.resourceType, name, sentence(rng, 6, 18))
	f.Message, f.StatusDetail = detail, detail
	f.Metadata.EventCode = c.id
	f.Metadata.Product = product{Name: "Prowler", UID: "prowler", VendorName: "Prowler", Version: opt.ProwlerVersion}
	f.Metadata.Profiles = []string{"cloud", "datetime"}
	f.Metadata.Version = "1.5.0"
	f.Severity, f.SeverityID = c.severity, severityID[c.severity]
	comp := map[string][]string{}
	for _, fw := range frameworks {
		if rng.IntN(3) == 0 {
			continue
		}
		k := 1 + rng.IntN(len(fw.ids))
		comp[fw.name] = fw.ids[:k]
	}
	f.Unmapped = unmapped{
		Categories:     []string{"logging", "encryption", "forensics-ready"}[:1+rng.IntN(3)],
		DependsOn:      []string{},
		RelatedTo:      []string{},
		AdditionalURLs: []string{"https://docs.aws.amazon.com/securityhub/latest/userguide/" + c.id + ".html"},
		Compliance:     comp,
		ScanID:         scanID,
		ProviderUID:    acct,
		Provider:       "aws",
	}
	f.ActivityName, f.ActivityID = "Create", 1
	at := opt.Start.Add(time.Duration(rng.IntN(3600)) * time.Second)
	f.Time = at.Unix()
	f.TimeDT = at.UTC().Format("2006-01-02T15:04:05.000000")
	f.FindingInfo = findingInfo{
		CreatedTime:   f.Time,
		CreatedTimeDT: f.TimeDT,
		Desc:          sentence(rng, 20, 45),
		Title:         c.title,
		Types:         []string{"Software and Configuration Checks/AWS Security Best Practices"},
		UID:           fmt.Sprintf("prowler-aws-%s-%s-%s-%s", c.id, acct, region, name),
	}
	// Prowler dumps its internal model of the resource here: the bulk of
	// a real finding, of varying size.
	var res resource
	res.CloudPartition, res.Region = "aws", region
	res.Data.Metadata.Name, res.Data.Metadata.Arn, res.Data.Metadata.Region = name, uid, region
	for k := 0; k < 1+rng.IntN(11); k++ {
		res.Data.Metadata.Attributes = append(res.Data.Metadata.Attributes, attribute{Key: fmt.Sprintf("attribute_%02d", k), Value: sentence(rng, 8, 20)})
	}
	res.Group.Name = c.id[:strings.IndexByte(c.id, '_')]
	res.Labels = []string{"Owner:platform", "env:" + []string{"prod", "staging", "dev"}[n%3]}
	res.Name, res.Type, res.UID = name, c.resourceType, uid
	f.Resources = []resource{res}
	f.CategoryName, f.CategoryUID = "Findings", 2
	f.ClassName, f.ClassUID = "Detection Finding", 2004
	f.Cloud.Account.Type, f.Cloud.Account.TypeID, f.Cloud.Account.UID, f.Cloud.Account.Labels = "AWS Account", 10, acct, []string{}
	f.Cloud.Provider, f.Cloud.Region = "aws", region
	f.Remediation.Desc = sentence(rng, 15, 35)
	f.Remediation.References = []string{"https://hub.prowler.com/check/" + c.id}
	f.RiskDetails = sentence(rng, 20, 40)
	f.TypeUID, f.TypeName = 200401, "Detection Finding: Create"
	return f
}
