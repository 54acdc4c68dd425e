package hyperlab.cuda;

/** Anything that stands for a device address; kernel arguments of this type travel as a 64-bit CUdeviceptr. */
public interface DevicePointer {
    long address();
}
