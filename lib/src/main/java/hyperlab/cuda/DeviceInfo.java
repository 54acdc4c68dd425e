package hyperlab.cuda;

/** What a device is: its name, compute capability, SM count and memory, read through cuDeviceGetAttribute. */
public record DeviceInfo(int ordinal, String name, int ccMajor, int ccMinor, int smCount, long totalMemoryBytes) {
    /** The NVRTC target for this device's own code, e.g. "sm_90". */
    public String arch() {
        return "sm_" + ccMajor + ccMinor;
    }
}
