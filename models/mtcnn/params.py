"""MTCNN's parameters: one definition for the torch detector, its onnxruntime port and the
export manifest (facenet-pytorch 2.5.3's defaults), and the smallest face each job asks of
the detector."""

THRESHOLDS = (0.6, 0.7, 0.7)  # P-Net, R-Net, O-Net face probability
FACTOR = 0.709  # image pyramid scale step
NMS_PER_SCALE = 0.5  # P-Net boxes, IoU, within one pyramid level
NMS_PYRAMID = 0.7  # P-Net boxes, IoU, over all levels; also R-Net's boxes
NMS_OUTPUT = 0.7  # O-Net boxes, overlap over the smaller box ("Min")
DEFAULT_MIN_FACE = 20  # MTCNN's own default: every face in a photo
PNET_CELL = 12  # P-Net's window (px at each pyramid level); the pyramid starts at 12 / min face
PNET_STRIDE = 2  # P-Net's output cells step this many px at each pyramid level
RNET_SIZE = 24  # R-Net's input (px, square)
ONET_SIZE = 48  # O-Net's input (px, square)
INPUT_MEAN = 127.5  # the three networks' input: RGB (x - INPUT_MEAN) * INPUT_SCALE, NCHW
INPUT_SCALE = 0.0078125

# The live loop's detector (the loop's own, larger minimum comes from the config and is
# reached by scaling frames down; see unlock.app.live.FaceFinder).
LIVE_MIN_FACE = 40
# Enrolment: its size gate needs 60 px, and a pyramid that starts at 48 px finds those faces
# at a fraction of the cost of the 20 px default (dark, busy frames make the default spend
# seconds on R-Net/O-Net candidates).
ENROL_MIN_FACE = 48
# The faces that calibrate the int8 embedder (the bundled media's faces of live-loop size).
CALIBRATION_MIN_FACE = 40
