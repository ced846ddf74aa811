/**
 * How much an image file may hold before a decoder refuses it: a file the scorer reads
 * may have been shaped by an experiment, and a few hundred kilobytes of PNG or TIFF can
 * declare (and inflate to) gigabytes. The limit is checked before anything is allocated.
 */

/**
 * Pixels one PNG or TIFF file may hold, all its pages together: 2^26 (67,108,864), e.g.
 * one 8192x8192 image or 256 frames of 512x512. A larger stack belongs in an `.npy`
 * file, whose size the decoder checks against its declared shape before reading it.
 */
export const maxPixels = 2 ** 26
