#include <stdio.h>
#include <stddef.h>
#include <sys/time.h>
#include <linux/videodev2.h>
#define S(t) printf("size %-24s %zu\n", #t, sizeof(struct t))
#define O(t,f) printf("off  %-24s %zu\n", #t "." #f, offsetof(struct t, f))
#define I(n) printf("ioctl %-23s 0x%08lx\n", #n, (unsigned long)(n))
int main(void){
 S(v4l2_capability); O(v4l2_capability,capabilities); O(v4l2_capability,device_caps);
 S(v4l2_pix_format); O(v4l2_pix_format,bytesperline); O(v4l2_pix_format,sizeimage); O(v4l2_pix_format,xfer_func);
 S(v4l2_format); O(v4l2_format,fmt);
 S(v4l2_fract); S(v4l2_captureparm); O(v4l2_captureparm,timeperframe); O(v4l2_captureparm,readbuffers);
 S(v4l2_streamparm); O(v4l2_streamparm,parm);
 S(v4l2_requestbuffers); O(v4l2_requestbuffers,capabilities); O(v4l2_requestbuffers,flags);
 S(v4l2_timecode);
 S(v4l2_fmtdesc); O(v4l2_fmtdesc,pixelformat); O(v4l2_fmtdesc,mbus_code);
 S(v4l2_buffer); O(v4l2_buffer,field); O(v4l2_buffer,timestamp); O(v4l2_buffer,timecode); O(v4l2_buffer,sequence);
 O(v4l2_buffer,memory); O(v4l2_buffer,m); O(v4l2_buffer,length); O(v4l2_buffer,reserved2); O(v4l2_buffer,request_fd);
 printf("size %-24s %zu\n", "timeval", sizeof(struct timeval));
 I(VIDIOC_QUERYCAP); I(VIDIOC_ENUM_FMT); I(VIDIOC_G_FMT); I(VIDIOC_S_FMT); I(VIDIOC_REQBUFS); I(VIDIOC_QUERYBUF);
 I(VIDIOC_QBUF); I(VIDIOC_DQBUF); I(VIDIOC_STREAMON); I(VIDIOC_STREAMOFF); I(VIDIOC_G_PARM); I(VIDIOC_S_PARM);
 printf("const V4L2_PIX_FMT_YUYV 0x%08x MJPEG 0x%08x JPEG 0x%08x YUV420 0x%08x NV12 0x%08x RGB24 0x%08x GREY 0x%08x\n",
  V4L2_PIX_FMT_YUYV, V4L2_PIX_FMT_MJPEG, V4L2_PIX_FMT_JPEG, V4L2_PIX_FMT_YUV420, V4L2_PIX_FMT_NV12, V4L2_PIX_FMT_RGB24, V4L2_PIX_FMT_GREY);
 printf("const CAP_VIDEO_CAPTURE 0x%x CAP_STREAMING 0x%x CAP_DEVICE_CAPS 0x%x CAP_TIMEPERFRAME 0x%x\n", V4L2_CAP_VIDEO_CAPTURE, V4L2_CAP_STREAMING, V4L2_CAP_DEVICE_CAPS, V4L2_CAP_TIMEPERFRAME);
 printf("const BUF_FLAG_ERROR 0x%x TIMESTAMP_MASK 0x%x MONOTONIC 0x%x COPY 0x%x UNKNOWN 0x%x QUEUED 0x%x DONE 0x%x MAPPED 0x%x\n", V4L2_BUF_FLAG_ERROR, V4L2_BUF_FLAG_TIMESTAMP_MASK, V4L2_BUF_FLAG_TIMESTAMP_MONOTONIC, V4L2_BUF_FLAG_TIMESTAMP_COPY, V4L2_BUF_FLAG_TIMESTAMP_UNKNOWN, V4L2_BUF_FLAG_QUEUED, V4L2_BUF_FLAG_DONE, V4L2_BUF_FLAG_MAPPED);
 printf("const BUF_TYPE_VIDEO_CAPTURE %d MEMORY_MMAP %d FIELD_NONE %d FIELD_ANY %d\n", V4L2_BUF_TYPE_VIDEO_CAPTURE, V4L2_MEMORY_MMAP, V4L2_FIELD_NONE, V4L2_FIELD_ANY);
 return 0;
}
