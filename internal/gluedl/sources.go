// Package gluedl downloads the GLUE benchmark's data as the official
// download_glue_data.py script (nyu-mll/GLUE-baselines) lays it out:
// DATA_DIR/CoLA, SST-2, MRPC, STS-B, QQP, MNLI, QNLI, RTE, WNLI and
// diagnostic. Archives come from the URLs the script uses (with the
// dl.fbaipublicfiles.com copies as a fallback), MRPC is built from the
// SentEval copy of the MSR Paraphrase Corpus and the official dev ids as
// the script's format_mrpc does, archives are extracted only when no entry
// would land outside the target folder, and every file's row count is
// checked against the official release before the task folder is put in
// place.
package gluedl

// source is one file the download needs, under its official name, with
// the addresses it is published at (tried in order) and its sha256 where
// it is known ("" skips the check; the row counts are checked anyway).
type source struct {
	Name   string
	URLs   []string
	SHA256 string
}

const firebase = "https://firebasestorage.googleapis.com/v0/b/mtl-sentence-representations.appspot.com/o/data%2F"
const fbGLUE = "https://dl.fbaipublicfiles.com/glue/data/"

// Archives and files of TASK2PATH in download_glue_data.py (the version
// transformers carried as utils/download_glue_data.py), with the
// dl.fbaipublicfiles.com copies later versions of the script switched to.
// The sha256 values are those Transformers.jl's GLUE datasets check and
// (MRPC inputs) those of Hugging Face datasets' glue.py.
var (
	srcCoLA = source{"CoLA.zip", []string{
		firebase + "CoLA.zip?alt=media&token=46d5e637-3411-4188-bc44-5809b5bfb5f4", fbGLUE + "CoLA.zip"},
		"f212fcd832b8f7b435fb991f101abf89f96b933ab400603bf198960dfc32cbff"}
	srcSST = source{"SST-2.zip", []string{
		firebase + "SST-2.zip?alt=media&token=aabc5f6b-e466-44a2-b9b4-cf6337f84ac8", fbGLUE + "SST-2.zip"},
		"d67e16fb55739c1b32cdce9877596db1c127dc322d93c082281f64057c16deaa"}
	srcQQP = source{"QQP-clean.zip", []string{
		firebase + "QQP-clean.zip?alt=media&token=11a647cb-ecd3-49c9-9d31-79f8ca8fe277", fbGLUE + "QQP-clean.zip"},
		"40e7c862c04eb26ee04b67fd900e76c45c6ba8e6d8fab4f8f1f8072a1a3fbae0"}
	srcSTS = source{"STS-B.zip", []string{
		firebase + "STS-B.zip?alt=media&token=bddb94a7-8706-4e0d-a694-1109e12273b5", fbGLUE + "STS-B.zip"},
		"e60a6393de5a8b5b9bac5020a1554b54e3691f9d600b775bd131e613ac179c85"}
	srcMNLI = source{"MNLI.zip", []string{
		firebase + "MNLI.zip?alt=media&token=50329ea1-e339-40e2-809c-10c40afff3ce", fbGLUE + "MNLI.zip"},
		"e7c1d896d26ed6caf700110645df426cc2d8ebf02a5ab743d5a5c68ac1c83633"}
	srcQNLI = source{"QNLIv2.zip", []string{
		firebase + "QNLIv2.zip?alt=media&token=6fdcf570-0fc5-4631-8456-9505272d1601", fbGLUE + "QNLIv2.zip"},
		"e634e78627a29adaecd4f955359b22bf5e70f2cbd93b493f2d624138a0c0e5f5"}
	srcRTE = source{"RTE.zip", []string{
		firebase + "RTE.zip?alt=media&token=5efa7e85-a0bb-4f19-8ea2-9e1840f077fb", fbGLUE + "RTE.zip"},
		"6bf86de103ecd335f3441bd43574d23fef87ecc695977a63b82d5efb206556ee"}
	srcWNLI = source{"WNLI.zip", []string{
		firebase + "WNLI.zip?alt=media&token=068ad0a0-ded7-4bd7-99a5-5e00222e0faf", fbGLUE + "WNLI.zip"},
		"ae0e8e4d16f4d46d4a0a566ec7ecceccfd3fbfaa4a7a4b4e02848c0f2561ac46"}
	srcAX = source{"AX.tsv", []string{
		"https://storage.googleapis.com/mtl-sentence-representations.appspot.com/tsvsWithoutLabels%2FAX.tsv?GoogleAccessId=firebase-adminsdk-0khhl@mtl-sentence-representations.iam.gserviceaccount.com&Expires=2498860800&Signature=DuQ2CSPt2Yfre0C%2BiISrVYrIFaZH1Lc7hBVZDD4ZyR7fZYOMNOUGpi8QxBmTNOrNPjR3z1cggo7WXFfrgECP6FBJSsURv8Ybrue8Ypt%2FTPxbuJ0Xc2FhDi%2BarnecCBFO77RSbfuz%2Bs95hRrYhTnByqu3U%2FYZPaj3tZt5QdfpH2IUROY8LiBXoXS46LE%2FgOQc%2FKN%2BA9SoscRDYsnxHfG0IjXGwHN%2Bf88q6hOmAxeNPx6moDulUF6XMUAaXCSFU%2BnRO2RDL9CapWxj%2BDl7syNyHhB7987hZ80B%2FwFkQ3MEs8auvt5XW1%2Bd4aCU7ytgM69r8JDCwibfhZxpaa4gd50QXQ%3D%3D",
		fbGLUE + "AX.tsv"}, ""}
	srcMRPCDevIDs = source{"mrpc_dev_ids.tsv", []string{
		firebase + "mrpc_dev_ids.tsv?alt=media&token=ec5c0836-31d5-48f4-b431-7480817f1adc", fbGLUE + "mrpc_dev_ids.tsv"},
		"971d7767d81b997fd9060ade0ec23c4fc31cbb226a55d1bd4a1bac474eb81dc7"}
	srcMRPCTrain = source{"msr_paraphrase_train.txt", []string{
		"https://dl.fbaipublicfiles.com/senteval/senteval_data/msr_paraphrase_train.txt"},
		"60a9b09084528f0673eedee2b69cb941920f0b8cd0eeccefc464a98768457f89"}
	srcMRPCTest = source{"msr_paraphrase_test.txt", []string{
		"https://dl.fbaipublicfiles.com/senteval/senteval_data/msr_paraphrase_test.txt"},
		"a04e271090879aaba6423d65b94950c089298587d9c084bf9cd7439bd785f784"}
)

// kind is how a task's folder is made.
type kind int

const (
	kindZip  kind = iota // one archive holding the task's folder
	kindMRPC             // built from the MSR Paraphrase Corpus files
	kindTSV              // one file (diagnostic.tsv)
)

// fileRows is a file of a task's folder and its official row count (the
// header line not counted).
type fileRows struct {
	Name   string
	Rows   int
	Header bool
}

// spec is how one task is downloaded and checked.
type spec struct {
	Task    string // canonical task name (package data)
	Kind    kind
	Sources []source
	Files   []fileRows
}

// specs lists the tasks in GLUE's order. Row counts are those of the
// official release (and of Hugging Face's glue dataset).
var specs = []spec{
	{"cola", kindZip, []source{srcCoLA}, []fileRows{
		{"train.tsv", 8551, false}, {"dev.tsv", 1043, false}, {"test.tsv", 1063, true}}},
	{"sst-2", kindZip, []source{srcSST}, []fileRows{
		{"train.tsv", 67349, true}, {"dev.tsv", 872, true}, {"test.tsv", 1821, true}}},
	{"mrpc", kindMRPC, []source{srcMRPCTrain, srcMRPCTest, srcMRPCDevIDs}, []fileRows{
		{"train.tsv", 3668, true}, {"dev.tsv", 408, true}, {"test.tsv", 1725, true}}},
	{"sts-b", kindZip, []source{srcSTS}, []fileRows{
		{"train.tsv", 5749, true}, {"dev.tsv", 1500, true}, {"test.tsv", 1379, true}}},
	{"qqp", kindZip, []source{srcQQP}, []fileRows{
		{"train.tsv", 363846, true}, {"dev.tsv", 40430, true}, {"test.tsv", 390965, true}}},
	{"mnli", kindZip, []source{srcMNLI}, []fileRows{
		{"train.tsv", 392702, true}, {"dev_matched.tsv", 9815, true}, {"dev_mismatched.tsv", 9832, true},
		{"test_matched.tsv", 9796, true}, {"test_mismatched.tsv", 9847, true}}},
	{"qnli", kindZip, []source{srcQNLI}, []fileRows{
		{"train.tsv", 104743, true}, {"dev.tsv", 5463, true}, {"test.tsv", 5463, true}}},
	{"rte", kindZip, []source{srcRTE}, []fileRows{
		{"train.tsv", 2490, true}, {"dev.tsv", 277, true}, {"test.tsv", 3000, true}}},
	{"wnli", kindZip, []source{srcWNLI}, []fileRows{
		{"train.tsv", 635, true}, {"dev.tsv", 71, true}, {"test.tsv", 146, true}}},
	{"ax", kindTSV, []source{srcAX}, []fileRows{
		{"diagnostic.tsv", 1104, true}}},
}
