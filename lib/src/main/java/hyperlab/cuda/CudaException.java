package hyperlab.cuda;

/** Any failure of the CUDA layer: a call that returned an error (named, with CUDA's own words) or a missing library. */
public class CudaException extends RuntimeException {
    public CudaException(String message) {
        super(message);
    }

    public CudaException(String message, Throwable cause) {
        super(message, cause);
    }
}
