// A host-memory stand-in for libcuda.so.1, only to exercise the Java facade (io.rocketkv.cuda) without a GPU:
// "device" memory is malloc, launches of the elementwise kernels are emulated in C by name (reading their
// parameters the way the kernels declare them), graphs replay recorded launches. It checks the Java side
// (FFM descriptors, kernel-parameter packing, buffer bookkeeping, graph and error paths), never the .cu
// kernels or the real driver: the gpu-tagged tests must still pass on a real GPU. See run.sh.
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>
typedef int CUresult;
typedef unsigned long long CUdeviceptr;
static const size_t TOTAL = 8ull << 30;
static size_t used = 0;
CUresult cuInit(unsigned f){return 0;}
CUresult cuDriverGetVersion(int*v){*v=13000;return 0;}
static const char* ename(int e){switch(e){case 0:return "CUDA_SUCCESS";case 1:return "CUDA_ERROR_INVALID_VALUE";case 2:return "CUDA_ERROR_OUT_OF_MEMORY";case 218:return "CUDA_ERROR_INVALID_PTX";case 500:return "CUDA_ERROR_NOT_FOUND";case 910:return "CUDA_ERROR_GRAPH_EXEC_UPDATE_FAILURE";default:return NULL;}}
CUresult cuGetErrorName(CUresult e, const char**p){*p=ename(e);return *p?0:1;}
CUresult cuGetErrorString(CUresult e, const char**p){*p=ename(e)?"fake description":NULL;return *p?0:1;}
CUresult cuDeviceGetCount(int*c){*c=1;return 0;}
CUresult cuDeviceGet(int*d,int o){if(o!=0)return 101;*d=0;return 0;}
CUresult cuDeviceGetName(char*n,int len,int d){strncpy(n,"Fake GPU",len);return 0;}
CUresult cuDeviceGetAttribute(int*v,int a,int d){switch(a){case 75:*v=9;break;case 76:*v=0;break;case 16:*v=132;break;case 10:*v=32;break;case 1:*v=1024;break;default:*v=0;}return 0;}
CUresult cuDeviceTotalMem_v2(size_t*b,int d){*b=TOTAL;return 0;}
static int refs=0;
CUresult cuDevicePrimaryCtxRetain(void**c,int d){refs++;*c=(void*)0x1234;return 0;}
CUresult cuDevicePrimaryCtxRelease_v2(int d){refs--;return 0;}
CUresult cuCtxSetCurrent(void*c){return 0;}
CUresult cuCtxGetCurrent(void**c){*c=(void*)0x1234;return 0;}
CUresult cuCtxSynchronize(void){return 0;}
CUresult cuMemGetInfo_v2(size_t*f,size_t*t){*f=TOTAL-used;*t=TOTAL;return 0;}
CUresult cuMemAlloc_v2(CUdeviceptr*p,size_t n){if(n==0)return 1;if(n>TOTAL-used)return 2;char*m=malloc(n+16);if(!m)return 2;*(size_t*)m=n;used+=n;*p=(CUdeviceptr)(m+16);return 0;}
CUresult cuMemFree_v2(CUdeviceptr p){char*m=(char*)p-16;used-=*(size_t*)m;free(m);return 0;}
CUresult cuMemHostAlloc(void**p,size_t n,unsigned f){*p=malloc(n);return 0;}
CUresult cuMemFreeHost(void*p){free(p);return 0;}
CUresult cuMemcpyHtoD_v2(CUdeviceptr d,const void*s,size_t n){memcpy((void*)d,s,n);return 0;}
CUresult cuMemcpyDtoH_v2(void*d,CUdeviceptr s,size_t n){memcpy(d,(void*)s,n);return 0;}
CUresult cuMemcpyDtoD_v2(CUdeviceptr d,CUdeviceptr s,size_t n){memmove((void*)d,(void*)s,n);return 0;}
CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr d,const void*s,size_t n,void*st){return cuMemcpyHtoD_v2(d,s,n);}
CUresult cuMemcpyDtoHAsync_v2(void*d,CUdeviceptr s,size_t n,void*st){return cuMemcpyDtoH_v2(d,s,n);}
CUresult cuMemcpyDtoDAsync_v2(CUdeviceptr d,CUdeviceptr s,size_t n,void*st){return cuMemcpyDtoD_v2(d,s,n);}
CUresult cuMemsetD8_v2(CUdeviceptr d,unsigned char c,size_t n){memset((void*)d,c,n);return 0;}
CUresult cuMemsetD32_v2(CUdeviceptr d,unsigned int v,size_t n){unsigned*p=(unsigned*)d;for(size_t i=0;i<n;i++)p[i]=v;return 0;}
CUresult cuMemsetD8Async(CUdeviceptr d,unsigned char c,size_t n,void*s){return cuMemsetD8_v2(d,c,n);}
CUresult cuMemsetD32Async(CUdeviceptr d,unsigned v,size_t n,void*s){return cuMemsetD32_v2(d,v,n);}
// launches, possibly captured
typedef struct { char name[64]; unsigned gx,bx; long long slots[8]; int nargs; } Launch;
typedef struct { int capturing; Launch l[64]; int n; } Stream;
CUresult cuStreamCreate(void**p,unsigned f){*p=calloc(1,sizeof(Stream));return 0;}
CUresult cuStreamDestroy_v2(void*p){free(p);return 0;}
CUresult cuStreamSynchronize(void*p){return 0;}
CUresult cuStreamWaitEvent(void*s,void*e,unsigned f){return 0;}
CUresult cuEventCreate(void**p,unsigned f){*p=calloc(1,sizeof(double));return 0;}
CUresult cuEventRecord(void*e,void*s){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);*(double*)e=t.tv_sec*1e3+t.tv_nsec/1e6;return 0;}
CUresult cuEventSynchronize(void*e){return 0;}
CUresult cuEventElapsedTime_v2(float*ms,void*a,void*b){*ms=(float)(*(double*)b-*(double*)a);if(*ms<=0)*ms=1e-3f;return 0;}
CUresult cuEventDestroy_v2(void*e){free(e);return 0;}
CUresult cuModuleLoadData(void**m,const void*img){const unsigned char*b=img;if(b[0]==0x50&&b[1]==0xed&&b[2]==0x55&&b[3]==0xba){*m=(void*)1;return 0;}if(strncmp(img,".version",8)==0){*m=(void*)2;return 0;}return 218;}
CUresult cuModuleUnload(void*m){return 0;}
static const char* known[]={"residual_add_f32","silu_mul_f32","rmsnorm_f32_wf32","rmsnorm_f32_wbf16","embedding_bf16_f32","nothing",0};
CUresult cuModuleGetFunction(void**f,void*m,const char*name){for(int i=0;known[i];i++)if(!strcmp(known[i],name)){*f=(void*)known[i];return 0;}return 500;}
CUresult cuFuncGetAttribute(int*v,int a,void*f){*v=a==0?1024:(a==4?16:0);return 0;}
CUresult cuFuncSetAttribute(void*f,int a,int v){return 0;}
CUresult cuOccupancyMaxActiveBlocksPerMultiprocessor(int*n,void*f,int b,size_t s){*n=8;return 0;}
static float bf(uint16_t b){uint32_t u=((uint32_t)b)<<16;float f;memcpy(&f,&u,4);return f;}
static void run(Launch*L){
  long long*s=L->slots; const char*n=L->name;
  if(!strcmp(n,"residual_add_f32")){float*x=(float*)s[0];float*y=(float*)s[1];long long c=s[2];for(long long i=0;i<c;i++)x[i]+=y[i];}
  else if(!strcmp(n,"silu_mul_f32")){float*o=(float*)s[0],*g=(float*)s[1],*u=(float*)s[2];long long c=s[3];for(long long i=0;i<c;i++)o[i]=g[i]/(1.0f+expf(-g[i]))*u[i];}
  else if(!strncmp(n,"rmsnorm",7)){float*o=(float*)s[0],*x=(float*)s[1];void*w=(void*)s[2];int h=(int)s[3];float eps;memcpy(&eps,&s[4],4);int b16=!strcmp(n,"rmsnorm_f32_wbf16");
    for(unsigned r=0;r<L->gx;r++){double ss=0;for(int i=0;i<h;i++)ss+=(double)x[r*h+i]*x[r*h+i];float inv=1.0f/sqrtf((float)(ss/h)+eps);for(int i=0;i<h;i++){float wi=b16?bf(((uint16_t*)w)[i]):((float*)w)[i];o[(long)r*h+i]=wi*(x[(long)r*h+i]*inv);}}}
  else if(!strcmp(n,"embedding_bf16_f32")){float*o=(float*)s[0];uint16_t*t=(uint16_t*)s[1];int*ids=(int*)s[2];int v=(int)s[3],h=(int)s[4];
    for(unsigned q=0;q<L->gx;q++){int id=ids[q];for(int i=0;i<h;i++)o[(long)q*h+i]=(id<0||id>=v)?NAN:bf(t[(long)id*h+i]);}}
}
CUresult cuLaunchKernel(void*f,unsigned gx,unsigned gy,unsigned gz,unsigned bx,unsigned by,unsigned bz,unsigned sh,void*st,void**params,void**extra){
  if((unsigned long)bx*by*bz>1024||sh>49152)return 1;
  Launch L;memset(&L,0,sizeof L);strncpy(L.name,(const char*)f,63);L.gx=gx;L.bx=bx;
  int np=!strcmp(L.name,"residual_add_f32")?3:!strcmp(L.name,"silu_mul_f32")?4:!strncmp(L.name,"rmsnorm",7)?5:!strcmp(L.name,"embedding_bf16_f32")?5:0;
  int sizes[8]={8,8,8,8,8,8,8,8}; if(!strncmp(L.name,"rmsnorm",7)){sizes[3]=4;sizes[4]=4;} if(!strcmp(L.name,"embedding_bf16_f32")){sizes[3]=4;sizes[4]=4;}
  for(int i=0;i<np;i++){L.slots[i]=0;memcpy(&L.slots[i],params[i],sizes[i]);} L.nargs=np;
  Stream*S=(Stream*)st; if(S&&S->capturing){S->l[S->n++]=L;return 0;} run(&L);return 0;}
typedef struct { Launch l[64]; int n; } Graph;
CUresult cuStreamBeginCapture_v2(void*s,int mode){if(!s)return 1;((Stream*)s)->capturing=1;((Stream*)s)->n=0;return 0;}
CUresult cuStreamEndCapture(void*s,void**g){Stream*S=s;Graph*G=calloc(1,sizeof(Graph));memcpy(G->l,S->l,sizeof S->l);G->n=S->n;S->capturing=0;*g=G;return 0;}
CUresult cuGraphInstantiateWithFlags(void**e,void*g,unsigned long long f){Graph*G=malloc(sizeof(Graph));memcpy(G,g,sizeof(Graph));*e=G;return 0;}
CUresult cuGraphLaunch(void*e,void*s){Graph*G=e;for(int i=0;i<G->n;i++)run(&G->l[i]);return 0;}
CUresult cuGraphExecUpdate_v2(void*e,void*g,void*info){Graph*E=e,*G=g;if(E->n!=G->n){*(int*)info=2;return 910;}memcpy(E,G,sizeof(Graph));*(int*)info=0;return 0;}
CUresult cuGraphExecDestroy(void*e){free(e);return 0;}
CUresult cuGraphDestroy(void*g){free(g);return 0;}
