// A host-memory stand-in for libcublas.so.13 (see fakecuda.c): cublasGemmEx as a naive column-major bf16 GEMM,
// enough to check the row-major/transpose mapping of Cublas.gemmBf16 without a GPU.
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
typedef int st;
st cublasCreate_v2(void**h){*h=malloc(8);return 0;}
st cublasDestroy_v2(void*h){free(h);return 0;}
st cublasGetVersion_v2(void*h,int*v){*v=130000;return 0;}
st cublasSetStream_v2(void*h,void*s){return 0;}
st cublasSetWorkspace_v2(void*h,void*w,size_t n){return 0;}
st cublasSetMathMode(void*h,int m){return 0;}
const char* cublasGetStatusName(st s){return s==0?"CUBLAS_STATUS_SUCCESS":"CUBLAS_STATUS_INVALID_VALUE";}
const char* cublasGetStatusString(st s){return "fake";}
static float bf(uint16_t b){uint32_t u=((uint32_t)b)<<16;float f;memcpy(&f,&u,4);return f;}
static uint16_t tobf(float f){uint32_t u;memcpy(&u,&f,4);u+=0x7fff+((u>>16)&1);return u>>16;}
// column-major: C[m,n] = op(A)[m,k] op(B)[k,n]
st cublasGemmEx(void*h,int ta,int tb,int m,int n,int k,const void*alpha,const void*A,int at,int lda,const void*B,int bt,int ldb,const void*beta,void*C,int ct,int ldc,int comp,int algo){
  if(at!=14||bt!=14||comp!=68)return 7;
  if(lda<(ta?k:m)||ldb<(tb?n:k)||ldc<m)return 7;
  const uint16_t*a=A,*b=B;float al=*(const float*)alpha;
  for(int j=0;j<n;j++)for(int i=0;i<m;i++){float s=0;for(int p=0;p<k;p++){float av=ta?bf(a[p+(long)i*lda]):bf(a[i+(long)p*lda]);float bv=tb?bf(b[j+(long)p*ldb]):bf(b[p+(long)j*ldb]);s+=av*bv;}
    s*=al; if(ct==0)((float*)C)[i+(long)j*ldc]=s; else if(ct==14)((uint16_t*)C)[i+(long)j*ldc]=tobf(s); else return 7;}
  return 0;}
