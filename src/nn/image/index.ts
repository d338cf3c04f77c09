// The image layers: Conv2d and MaxPool2d (PyTorch's options and names), and the CNN encoder built from
// them that gives an image's annotation grid.

export { Conv2d, type Conv2dOptions } from './conv2d.js';
export { MaxPool2d, type MaxPool2dOptions } from './max-pool2d.js';
export { ImageEncoder, type ImageEncoderConfig, type ResolvedImageEncoderConfig, type PixelBox } from './image-encoder.js';
