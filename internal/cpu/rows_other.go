//go:build !amd64 || purego

package cpu

import "github.com/mixft/mixft/internal/backend"

// The row loops have no vectorized form here (see rows_amd64.go).
func softmaxRowFast([]float32) bool                                           { return false }
func softmaxGradRowFast(_, _, _ []float32, _ float32) bool                    { return false }
func geluBulk(_, _, _ []float32) int                                          { return 0 }
func geluGradBulk(_, _, _, _ []float32) int                                   { return 0 }
func philoxBulk([]uint32, uint32, uint32, uint32, uint32, uint32, uint32) int { return 0 }
func dropScaleBulk(_, _ []float32, _ []uint32, _ uint32, _ float32) int       { return 0 }
func adamwBulk(_, _, _, _, _ []float32, _ *backend.AdamWScalars) int          { return 0 }
func addF32Bulk(_, _, _ []float32) int                                        { return 0 }
func accF64Bulk([]float64, []float32) int                                     { return 0 }
func layerNormSumsBulk(_, _, _ []float32, _, _ []float64, _, _ float64) (int, float64, float64) {
	return 0, 0, 0
}
func layerNormDxBulk(_, _, _, _ []float32, _, _, _, _, _ float64) int { return 0 }
func mixRowBulk(_, _, _, _ []float32, _ float32) int                  { return 0 }
func mixGradRowBulk(_, _, _ []float32, _ float32) int                 { return 0 }
