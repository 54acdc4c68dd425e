package hyperlab.nn;

import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;

/** A block whose output has its input's shape: every residual sublayer and the connection around it. */
abstract class ShapePreservingBlock extends AbstractBlock {
    @Override
    public final Shape[] getOutputShapes(Shape[] inputShapes) {
        return new Shape[] {inputShapes[0]};
    }
}
