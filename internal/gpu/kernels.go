//go:build cuda || kernelhost

package gpu

// kernel names a kernel of kernels/*.cu; the devices resolve the names once.
type kernel int

const (
	kEwAdd kernel = iota
	kEwAddBias
	kEwScale
	kEwActivate
	kEwActivateBackward
	kEwTanh
	kBiasActivate
	kBiasActivateBwdPartial
	kEwTanhBackward
	kFirstToken
	kFirstTokenBackward
	kDropoutFwd
	kKeepMask
	kMixoutWeights
	kMixoutBackward
	kLayerNormFwd
	kLayerNormBwdDx
	kBiasDropoutAddLNFwd
	kLNDropoutBwdDx
	kLNParamsPartial
	kColsumPartial
	kColsumFinish
	kEmbedFwd
	kEmbedBwdSegments
	kAttnSplitHeads
	kAttnMergeHeads
	kAttnSoftmax
	kAttnSoftmaxBackward
	kDisSoftmax
	kDisRelGrad
	kCrossEntropy
	kMSE
	kSumsqPartial
	kSumsqFinish
	kSumsqMultiPartial
	kSumsqMultiFinish
	kAdamWStep
	kRopeAttnFwd
	kRopeAttnBwdDq
	kRopeAttnBwdDkv
	kRopeUnrotate
	kGatedActivate
	kGatedActivateBackward
	numKernels
)

// kernelNames are the C names of the kernels, by kernel.
var kernelNames = [numKernels]string{
	kEwAdd:                  "ew_add",
	kEwAddBias:              "ew_add_bias",
	kEwScale:                "ew_scale",
	kEwActivate:             "ew_activate",
	kEwActivateBackward:     "ew_activate_backward",
	kEwTanh:                 "ew_tanh",
	kBiasActivate:           "bias_activate",
	kBiasActivateBwdPartial: "bias_activate_bwd_partial",
	kEwTanhBackward:         "ew_tanh_backward",
	kFirstToken:             "first_token",
	kFirstTokenBackward:     "first_token_backward",
	kDropoutFwd:             "dropout_fwd",
	kKeepMask:               "keep_mask",
	kMixoutWeights:          "mixout_weights",
	kMixoutBackward:         "mixout_backward",
	kLayerNormFwd:           "layernorm_fwd",
	kLayerNormBwdDx:         "layernorm_bwd_dx",
	kBiasDropoutAddLNFwd:    "bias_dropout_add_ln_fwd",
	kLNDropoutBwdDx:         "ln_dropout_bwd_dx",
	kLNParamsPartial:        "ln_params_partial",
	kColsumPartial:          "colsum_partial",
	kColsumFinish:           "colsum_finish",
	kEmbedFwd:               "embed_fwd",
	kEmbedBwdSegments:       "embed_bwd_segments",
	kAttnSplitHeads:         "attn_split_heads",
	kAttnMergeHeads:         "attn_merge_heads",
	kAttnSoftmax:            "attn_softmax",
	kAttnSoftmaxBackward:    "attn_softmax_backward",
	kDisSoftmax:             "dis_softmax",
	kDisRelGrad:             "dis_rel_grad",
	kCrossEntropy:           "cross_entropy",
	kMSE:                    "mse",
	kSumsqPartial:           "sumsq_partial",
	kSumsqFinish:            "sumsq_finish",
	kSumsqMultiPartial:      "sumsq_multi_partial",
	kSumsqMultiFinish:       "sumsq_multi_finish",
	kAdamWStep:              "adamw_step",
	kRopeAttnFwd:            "rope_attn_fwd",
	kRopeAttnBwdDq:          "rope_attn_bwd_dq",
	kRopeAttnBwdDkv:         "rope_attn_bwd_dkv",
	kRopeUnrotate:           "rope_unrotate",
	kGatedActivate:          "gated_activate",
	kGatedActivateBackward:  "gated_activate_backward",
}

// String implements fmt.Stringer.
func (k kernel) String() string { return kernelNames[k] }
