/* library_types.h (baton's CUDA emulation): data types shared by the CUDA libraries. */
#ifndef BATON_EMU_LIBRARY_TYPES_H
#define BATON_EMU_LIBRARY_TYPES_H

typedef enum cudaDataType_t {
    CUDA_R_32F = 0,
    CUDA_R_16F = 2,
    CUDA_R_16BF = 14
} cudaDataType_t;
typedef cudaDataType_t cudaDataType;

typedef enum libraryPropertyType_t {
    MAJOR_VERSION,
    MINOR_VERSION,
    PATCH_LEVEL
} libraryPropertyType_t;
typedef libraryPropertyType_t libraryPropertyType;

#endif
