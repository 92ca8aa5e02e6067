package features

import "context"

// DensityHistogram is the activation densities of a source's features:
// Counts[i] live features have log10(fracNonzero) in
// [MinLog10 + i*Step, MinLog10 + (i+1)*Step) (the last bin closed at 0,
// densities below MinLog10 in the first), and Dead features never fired.
type DensityHistogram struct {
	MinLog10, Step float64
	Counts         []int
	Dead           int
}

// DensityHistogrammer is implemented by a store that can bin a whole
// source's feature densities in one query (the source page shows them).
type DensityHistogrammer interface {
	SourceDensityHistogram(ctx context.Context, modelID, sourceID string) (*DensityHistogram, error)
}
